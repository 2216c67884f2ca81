// Secure path walking by descriptor (STYLE.md 3).
//
// Contract, every function here MUST:
//  1. start at "/" and open each component with
//     openat(dirfd, name, O_PATH|O_NOFOLLOW|O_CLOEXEC), never by whole path;
//  2. fstat the descriptor it got and judge that object, never a path;
//  3. refuse a symlink anywhere in the path (reason "path-symlink");
//  4. refuse "." / ".." / empty components and relative paths ("path-invalid");
//  5. check each directory's owner and write bits before descending
//     ("path-unsafe-dir"), the bits of st_mode covering the ACL mask;
//  6. return the descriptor of the final object, so the caller uses the very
//     inode that was checked.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tg {

// Opens a trusted configuration or state file for reading (O_RDONLY|O_CLOEXEC|
// O_NOFOLLOW|O_NONBLOCK then fstat): every directory on the way and the file
// itself owned by root and not writable by group or other; the file is a
// regular file. Reasons: "path-invalid", "path-symlink", "path-unsafe-dir",
// "path-missing" (ENOENT), "file-unsafe" (wrong type, owner or mode),
// "path-error" (any other errno).
[[nodiscard]] Result<UniqueFd> open_trusted_file(const std::string& path);

// open_trusted_file(), then the whole contents (EINTR retried). More than
// `max_bytes` is refused ("file-too-large"); a read error is "path-error".
[[nodiscard]] Result<std::string> read_trusted_file(const std::string& path, std::size_t max_bytes);

// Checks a trusted file like open_trusted_file() without reading it (used by
// the wrapper to re-check the policy sources listed in the compiled policy).
[[nodiscard]] Result<void> check_trusted_file(const std::string& path);

// Walks to a share's socket and returns an O_PATH descriptor of it.
// Directories: owned by root or `owner`, not writable by group or other,
// except a root-owned sticky directory such as /tmp (entries in it cannot be
// replaced by others, and the next component is checked in turn).
// The last component: "not-a-socket" unless S_ISSOCK, "socket-owner-mismatch"
// unless owned by `owner`, then socket_acl_check() (acl.hpp).
// Missing path: "socket-missing".
[[nodiscard]] Result<UniqueFd> socket_open_verified(const std::string& path, uid_t owner,
                                                    gid_t gate_gid);

// Opens the directory at `path` (every component checked as for the socket
// walk, the last one too) and returns an O_PATH|O_DIRECTORY descriptor.
[[nodiscard]] Result<UniqueFd> dir_open_verified(const std::string& path, uid_t owner);

// Opens the directory at `path` (an O_PATH descriptor), every component
// including the last checked with the trusted-file rule: owned by root, not
// writable by group or other, no sticky exception. For policy.d.
[[nodiscard]] Result<UniqueFd> trusted_dir_open(const std::string& path);

// "/proc/self/fd/N" for a descriptor.
[[nodiscard]] std::string fd_proc_path(int fd);

}  // namespace tg
