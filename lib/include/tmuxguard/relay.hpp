// The pty relay between the guest's terminal and the tmux client
// (sudo's use_pty, for the same reason): the server gets a pseudo-terminal
// that dies with the attach, never the guest's real terminal.
//
// Contract:
//  1. pty_open() allocates a fresh pty pair before any confinement (opening
//     /dev/ptmx needs O_RDWR, which the filter forbids afterwards); the
//     slave starts with the guest terminal's termios without echo, and its
//     window size;
//  2. gate_drop_for_good() makes real, effective and saved gid the real gid
//     and proves the old effective gid cannot be regained (the relay holds
//     the guest's terminal and needs no gate);
//  3. relay_run() puts the guest's terminal in raw mode (when it is one),
//     copies bytes both ways, passes window size changes on, follows the
//     client's job control (a stopped client stops the relay with the
//     terminal restored; SIGCONT puts raw mode back, only when the relay
//     is in the foreground again, and continues the client; in the
//     background it reads nothing), and restores the terminal state on every way out: the client
//     ends, SIGTERM/SIGHUP/SIGINT/SIGQUIT to the relay (the client is sent
//     SIGHUP), read or write errors;
//  4. after the client has ended, the master is drained and closed, so any
//     descriptor of the slave left in the server is hung up: nothing the
//     server does afterwards reaches the guest's terminal;
//  5. relay_run() reports how the client ended and whether all it ever
//     wrote was tmux's "access not allowed" line (tmux exits 0 on that
//     refusal); a screen that merely shows those words is not a refusal.
#pragma once

#include <sys/types.h>

#include <functional>

#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tg {

struct PtyPair {
    UniqueFd master;
    UniqueFd slave;
};

[[nodiscard]] Result<PtyPair> pty_open(int guest_tty_fd);

// Makes the slave the calling process's controlling terminal and its fds
// 0-2 (in the child, after setsid); false with errno on failure.
[[nodiscard]] bool pty_slave_adopt(int slave_fd);

// The child side, as sudo's monitor: a new session on the pty, then the
// client forked into a process group of its own in the foreground (so the
// kernel lets tmux's suspend-client stop it: a session leader's own group
// would be orphaned and SIGTSTP dropped). `exec_client` runs in that
// process and must not return. This process gives up the gate for good,
// waits for the client, mirrors a stop of the client by stopping itself
// (the relay sees that) and continues the client when continued, and exits
// with the client's status (128+N when killed by N). Never returns.
[[noreturn]] void pty_monitor_run(int slave_fd, const std::function<void()>& exec_client);

[[nodiscard]] Result<void> gate_drop_for_good();

struct RelayEnd {
    int status = -1;              // the client's exit status, 128+N if killed by N
    bool server_refused = false;  // all the client wrote was "access not allowed"
    int signal = 0;               // a terminating signal the relay received, else 0
};

// Signals relay_run() handles through a signalfd; the caller blocks them
// before fork (the child unblocks them before exec).
[[nodiscard]] sigset_t relay_signals();

[[nodiscard]] Result<RelayEnd> relay_run(int guest_in, int guest_out, int master_fd, pid_t child);

}  // namespace tg
