// Where share sockets live relative to the runtime directory (creation by
// descriptor is tmuxguard/runtime_dir.hpp, shared with pam_tmuxguard.so).
#pragma once

#include <sys/types.h>

#include <string>

#include "tmuxguard/compiled.hpp"

namespace tgcli {

// RUNTIME/UID for a share's owner.
[[nodiscard]] std::string runtime_owner_dir_path(const tg::CompiledPolicy& c, uid_t uid);

// Whether the share's socket lives directly in RUNTIME/OWNER-UID.
[[nodiscard]] bool share_socket_in_runtime(const tg::CompiledPolicy& c,
                                           const tg::CompiledShare& s);

}  // namespace tgcli
