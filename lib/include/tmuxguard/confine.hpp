// Confinement of the tmux client that tmuxguard-attach execs (BRIEF.md step 10),
// and of the wrapper's own relay that outlives the exec in the parent.
//
// The client keeps the gate group as its effective gid (it must pass the
// socket's ACL), so anything it executes would hold the gate too: a hostile
// server's `detach-client -E`, a guest's own `set default-shell` plus
// `detach-client -E`, or MSG_SHELL. The filter lets the wrapper exec tmux
// exactly once and makes every later exec fail, and takes away what a
// compromised client could use against the guest or the machine.
//
// Contract, confine_exec_once() MUST:
//  1. set PR_SET_NO_NEW_PRIVS before loading anything;
//  2. load a seccomp filter for the native architecture only (a syscall from
//     any other ABI kills the process) under which:
//     a. execve always fails with EPERM, and execveat fails with EPERM
//        unless its descriptor is `exec_fd` and its flags are exactly
//        AT_EMPTY_PATH: the one exec of the binary the wrapper opened and
//        checked. tmux never calls execveat and the descriptor is
//        close-on-exec, so after that exec nothing can run;
//     b. ptrace, process_vm_readv and process_vm_writev fail (EPERM);
//     c. socket and socketpair fail unless the domain is AF_UNIX; bind and
//        listen always fail (the client only connects; binding a unix
//        socket to a path would create a file);
//     d. no file can be created, opened for writing, truncated, removed,
//        renamed, linked or have its mode or owner changed: open/openat/
//        creat with O_WRONLY, O_RDWR, O_CREAT or O_TRUNC, openat2,
//        truncate/ftruncate/fallocate, mkdir*, mknod*, unlink*, rmdir,
//        rename*, link*, symlink*, chmod*/fchmod*/fchmodat2, chown*/fchown*,
//        *setxattr/*removexattr (ACLs), utime*/futimesat, all EPERM
//        (descriptors opened before, such as the terminal and the socket,
//        stay usable);
//     e. io_uring_setup fails (io_uring would bypass the argument checks);
//  3. add Landlock where the kernel offers it, as a second layer: a ruleset
//     that handles every filesystem right that creates, writes, truncates,
//     removes or links, and TCP bind/connect, with no rule granting any of
//     them; and that handles reading and executing, granted only beneath
//     /usr, /lib, /lib64, /etc, /dev/null, the caller's own /proc entry and
//     the tmux binary behind `exec_fd` (a server can make its client open
//     any path it names with MSG_READ_OPEN: the guest's files stay shut). Absent Landlock (ENOSYS, EOPNOTSUPP) is not an error: the
//     report says why it was skipped; any other Landlock failure is;
//  4. fail as a whole: any error leaves the caller to refuse the attach
//     (reason "confine-failed").
#pragma once

#include <string>

#include "tmuxguard/error.hpp"

namespace tg {

struct ConfineReport {
    int landlock_abi = 0;  // 0: not applied
    std::string note;      // why Landlock was skipped, else empty
};

// Installs the confinement of the contract above into the calling process.
[[nodiscard]] Result<ConfineReport> confine_exec_once(int exec_fd);

// Execs the binary behind `exec_fd` with execveat(AT_EMPTY_PATH); returns
// only on failure (errno set).
int confine_exec_fd(int exec_fd, char* const argv[], char* const envp[]);

}  // namespace tg
