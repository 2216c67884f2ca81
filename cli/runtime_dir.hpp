// Directory creation by descriptor, shared by reload and serve: root-owned
// state directories (mkdir -p semantics) and the per-owner runtime
// directories RUNTIME/UID that hold share sockets.
#pragma once

#include <sys/types.h>

#include <string>

#include "tmuxguard/compiled.hpp"
#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgcli {

// Walks `path` from "/" by descriptor, creating each missing component as a
// root-owned 0755 directory; every component must be a directory owned by
// root and not writable by group or other. Returns an O_PATH descriptor of
// the last one. Reasons: "path-invalid", "path-symlink", "path-unsafe-dir",
// "path-error".
[[nodiscard]] tg::Result<tg::UniqueFd> dir_ensure_root(const std::string& path);

// Creates or fixes RUNTIME/UID under the descriptor `runtime_fd`: a directory
// owned by `uid` (a root-owned one is handed to `uid`), mode 0700, plus
// group:GATE:--x. A symlink, a non-directory or a directory owned by anyone
// else is refused and left alone. Returns its O_PATH descriptor.
[[nodiscard]] tg::Result<tg::UniqueFd> runtime_owner_dir_ensure(int runtime_fd,
                                                               const std::string& runtime_path,
                                                               uid_t uid, gid_t gid,
                                                               gid_t gate_gid);

// RUNTIME/UID for a share's owner.
[[nodiscard]] std::string runtime_owner_dir_path(const tg::CompiledPolicy& c, uid_t uid);

// Whether the share's socket lives directly in RUNTIME/OWNER-UID.
[[nodiscard]] bool share_socket_in_runtime(const tg::CompiledPolicy& c,
                                           const tg::CompiledShare& s);

}  // namespace tgcli
