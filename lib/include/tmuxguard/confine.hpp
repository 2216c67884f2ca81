// Confinement of the tmux client that tmuxguard-attach execs (BRIEF.md step 10).
//
// The client keeps the gate group as its effective gid (it must pass the
// socket's ACL), so anything it executes would hold the gate too: a hostile
// server's `detach-client -E`, a guest's own `set default-shell` plus
// `detach-client -E`, or MSG_SHELL. The filter lets the wrapper exec tmux
// exactly once and makes every later exec fail.
//
// Contract, confine_exec_once() MUST:
//  1. set PR_SET_NO_NEW_PRIVS before loading anything;
//  2. load a seccomp filter for the native architecture only (a syscall from
//     any other ABI kills the process) under which execve always fails with
//     EPERM, and execveat fails with EPERM unless its descriptor is `exec_fd`
//     and its flags are exactly AT_EMPTY_PATH: the one exec of the binary
//     the wrapper opened and checked. tmux itself never calls execveat, and
//     the descriptor is close-on-exec, so after that exec nothing can run;
//  3. fail as a whole: any error leaves the caller to refuse the attach
//     (reason "confine-failed").
#pragma once

#include "tmuxguard/error.hpp"

namespace tg {

// Installs the filter of the contract above into the calling process.
[[nodiscard]] Result<void> confine_exec_once(int exec_fd);

// Execs the binary behind `exec_fd` with execveat(AT_EMPTY_PATH); returns
// only on failure (errno set).
int confine_exec_fd(int exec_fd, char* const argv[], char* const envp[]);

}  // namespace tg
