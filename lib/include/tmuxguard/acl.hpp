// POSIX ACL evaluation for the share socket and runtime directory (libacl).
//
// Contract for socket_acl_check():
//  1. read the full access ACL of the inode behind the O_PATH descriptor
//     (through /proc/self/fd/N, the very inode that was walked to);
//  2. apply the mask to named users, the owning group and named groups;
//  3. ignore execute bits (tmux toggles them as clients come and go);
//  4. allow read/write only for the owner and the gate group;
//  5. fail closed: an ACL that cannot be read is a refusal.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tmuxguard/error.hpp"

namespace tg {

enum class AclTag : std::uint8_t { user_obj, user, group_obj, group, mask, other };

struct AclEntry {
    AclTag tag;
    std::uint32_t id = 0;    // uid or gid for user/group entries
    std::uint8_t perms = 0;  // 4 = r, 2 = w, 1 = x
};

// Reads the access ACL of an inode through its descriptor (a file without an
// extended ACL yields the three entries of its mode bits).
[[nodiscard]] Result<std::vector<AclEntry>> acl_read_fd(int fd);
// Reads the default ACL of a directory (empty when it has none).
[[nodiscard]] Result<std::vector<AclEntry>> acl_read_default_fd(int fd);

// Judges the access ACL of a runtime directory before it is repaired:
// "acl-overgrant" for any named user entry or any named group entry other
// than the gate's, whatever its permissions (someone's deliberate grant is
// reported, never silently rewritten).
[[nodiscard]] Result<void> runtime_dir_acl_judge(const std::vector<AclEntry>& acl,
                                                 gid_t gate_gid);

// Judges a socket's ACL. Reasons: "socket-mode-unsafe" when the owning group
// or other get r or w; "acl-overgrant" when a named user or a named group
// other than the gate gets r or w after the mask; "acl-gate-missing" when the
// gate group lacks rw after the mask (unless the socket's own group is the
// gate and group_obj grants rw).
[[nodiscard]] Result<void> socket_acl_judge(const std::vector<AclEntry>& acl, uid_t owner,
                                            gid_t socket_gid, gid_t gate_gid);

// acl_read_fd() then socket_acl_judge().
[[nodiscard]] Result<void> socket_acl_check(int fd, uid_t owner, gid_t socket_gid, gid_t gate_gid);

// Sets the ACL of a share socket: user::rw-, group::---, group:GATE:rw-,
// mask::rw-, other::---. (`fd` may be O_PATH; written through /proc/self/fd/N.)
[[nodiscard]] Result<void> acl_apply_socket(int fd, gid_t gate_gid);
// Sets the ACL of a runtime directory: user::rwx, group::---,
// group:GATE:--x, mask::--x, other::---.
[[nodiscard]] Result<void> acl_apply_runtime_dir(int fd, gid_t gate_gid);

}  // namespace tg
