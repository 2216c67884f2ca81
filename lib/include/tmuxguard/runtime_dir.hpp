// Runtime directories by descriptor: the root-owned RUNTIME (default
// /run/tmuxguard) and the per-user RUNTIME/UID that holds tmux sockets.
// Used by `tmuxguard reload`/`serve` and by pam_tmuxguard.so.
//
// Contract, every function here MUST:
//  1. walk and create by descriptor only (openat/mkdirat relative to the
//     verified parent, O_PATH|O_NOFOLLOW|O_CLOEXEC), never by whole path;
//  2. judge each object by fstat of the descriptor it got;
//  3. never follow, chown or chmod a symlink, a non-directory, or a
//     directory owned by someone other than root or the intended owner,
//     nor one that carries someone's extra ACL entries;
//  4. change owner, mode and ACL only through that descriptor (fchownat with
//     AT_EMPTY_PATH, chmod/acl_set_file of /proc/self/fd/N), so the inode
//     that was checked is the inode that is changed;
//  5. set modes explicitly, so the caller's umask (login's may be 077)
//     never decides them.
#pragma once

#include <sys/types.h>

#include <string>

#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tg {

// Walks `path` from "/" by descriptor, creating each missing component as a
// root-owned 0755 directory; every component must be a directory owned by
// root and not writable by group or other. Returns an O_PATH descriptor of
// the last one. Reasons: "path-invalid", "path-symlink", "path-unsafe-dir",
// "path-error".
[[nodiscard]] Result<UniqueFd> root_dir_ensure(const std::string& path);

// What runtime_user_dir_ensure() did.
struct RuntimeDir {
    UniqueFd fd;          // O_PATH descriptor of RUNTIME/UID
    std::string path;     // RUNTIME/UID as text
    bool created = false;
    std::string repaired;  // empty, or what was wrong: "owner 0", "mode 0777", "acl"
};

// Creates or repairs RUNTIME/UID under the descriptor `runtime_fd` (the
// directory `runtime_path`): owned by uid:gid, mode 0700, ACL exactly
// user::rwx group::--- group:GATE:--x mask::--x other::---. A root-owned
// directory is handed to `uid` (RUNTIME is root's, so root made it); a wrong
// mode or a missing or different gate entry is repaired. Refused and left
// untouched: a symlink ("path-symlink"), anything not a directory or a
// directory of another user ("path-unsafe-dir"), a named ACL entry other than
// the gate's or a default ACL ("acl-overgrant"). Creators take turns on
// RUNTIME/.lock (root 0600, flock), so no call sees another's half-made
// directory.
[[nodiscard]] Result<RuntimeDir> runtime_user_dir_ensure(int runtime_fd,
                                                        const std::string& runtime_path,
                                                        uid_t uid, gid_t gid, gid_t gate_gid);

// Opens (creating it 0600 if missing) the state file `name` under `dir_fd`:
// root's regular file, one link, no access for group or other; then takes
// flock(`lock_op`) unless it is 0. For RUNTIME/.lock and the PAM module's
// session counts. Reasons: "path-error", "file-unsafe".
[[nodiscard]] Result<UniqueFd> root_state_file_open(int dir_fd, const std::string& name,
                                                    const std::string& shown, int lock_op);

// RUNTIME/UID as text (trailing slashes of RUNTIME dropped).
[[nodiscard]] std::string runtime_user_dir_path(const std::string& runtime_path, uid_t uid);

// The gate group: the group of the installed setgid wrapper at `attach_path`,
// which must be a root-owned regular file of mode exactly 02755 whose group
// is not root, reached by a trusted walk. Reason: "gate-unknown".
[[nodiscard]] Result<gid_t> gate_gid_of_wrapper(const std::string& attach_path);

}  // namespace tg
