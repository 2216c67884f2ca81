// Where share sockets live relative to the runtime directory.
#include "runtime_dir.hpp"

#include "cli.hpp"
#include "tmuxguard/runtime_dir.hpp"

namespace tgcli {

// RUNTIME/UID
std::string runtime_owner_dir_path(const tg::CompiledPolicy& c, uid_t uid)
{
    return tg::runtime_user_dir_path(c.runtime_dir, uid);
}

// dirname(socket) == RUNTIME/OWNER-UID
bool share_socket_in_runtime(const tg::CompiledPolicy& c, const tg::CompiledShare& s)
{
    return path_dirname(s.socket) == runtime_owner_dir_path(c, s.owner_uid);
}

}  // namespace tgcli
