// Running a program as another account, bounded and isolated: how the CLI
// runs tmux against a share's server and how pam_tmuxguard.so ends a user's
// idle servers at logout. Safe to call from a host process such as sshd:
// the child only makes system calls between fork and exec.
//
// Contract, run_as() MUST:
//  1. with `drop`, make the child setgroups(groups), setresgid(g,g,g) and
//     setresuid(u,u,u) in that order, read the ids back with getresuid /
//     getresgid and abort unless all are the target's, and abort if
//     setresuid(0,0,0) then succeeds (unless the target is root); without
//     `drop`, run only when the caller's real and effective uid are `uid`;
//  2. hand the child nothing of the caller's: stdin /dev/null, stdout and
//     stderr pipes, every other descriptor closed, a new session without a
//     controlling terminal (so a tmux server cannot reach the caller's
//     terminal with TIOCSTI or escape sequences), default signal
//     dispositions and an empty mask, no core dumps;
//  3. give it exactly `env` and `argv`, exec `program` directly (no shell,
//     no PATH search), after chdir to `dir` (as the target), else "/";
//  4. bound the run: SIGKILL to the child's process group after
//     `timeout_ms` or `max_output` bytes ("run-timeout",
//     "run-output-too-large"), so a hostile peer cannot hang or flood the
//     caller;
//  5. change nothing of the caller's process: no ids, umask, signal
//     dispositions, mask or descriptors. The child is made with clone3
//     (CLONE_PIDFD, exit_signal 0) and never execs (it forks the program
//     and exits with its status): the host gets no SIGCHLD for it, SIG_IGN
//     does not auto-reap it, its waitpid(-1) cannot reap it, and it is
//     waited for by pidfd; signals
//     are blocked across clone3 so no host handler runs in the child; on
//     every way out (timeout, error, exception) the child is killed and
//     reaped;
//  6. return the exit status (128 + N when killed by signal N) and the
//     output as data, never printed.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "tmuxguard/error.hpp"

namespace tg {

struct RunAsPlan {
    bool drop = false;  // change ids to uid/gid/groups (the caller is root)
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string program;  // absolute path, exec'd as is
    std::string dir;      // working directory of the child; "/" if unusable
    std::vector<std::string> argv;
    std::vector<std::string> env;
    int timeout_ms = 15000;
    std::size_t max_output = std::size_t{1} << 20U;
};

struct RunAsResult {
    int status = -1;  // exit status, or 128 + signal
    std::string out;
    std::string err;
};

// Errors: "exec-setup" (pipe, clone3, waitid, a relative program), "run-timeout",
// "run-output-too-large", "not-target" (no drop and the caller is not uid).
[[nodiscard]] Result<RunAsResult> run_as(const RunAsPlan& plan);

}  // namespace tg
