// The process behind a share's socket, held by a pidfd, so that a signal
// reaches that very process and never whatever process a reused pid names
// (used by `rotate`, which sends the server SIGUSR1).
#pragma once

#include <sys/types.h>

#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgcli {

struct ServerProcess {
    pid_t pid = 0;
    tg::UniqueFd pidfd;
    bool from_peer = false;  // SO_PEERPIDFD (else pidfd_open plus re-checks)
};

// Contract for server_process_open(): it MUST
//  1. connect to the inode behind the O_PATH descriptor `socket_fd` through
//     /proc/self/fd/N (never the path), and take SO_PEERCRED of that
//     connection: uid = `owner`, pid > 0;
//  2. get the pidfd from the kernel's own reference to the listener
//     (SO_PEERPIDFD on that connection) where the kernel has it;
//  3. otherwise pidfd_open(pid), then require that process's real and
//     effective uid to be `owner` (/proc/PID/status), that a second
//     connection's SO_PEERCRED still names the same pid and owner, and
//     that the pidfd's process is still alive afterwards: the number was
//     not reused between the check and the open;
//  4. require the pidfd to name that pid (/proc/self/fdinfo "Pid:").
// Reasons: "connect-failed", "server-not-running", "peer-mismatch",
// "pidfd-failed", "server-changed".
[[nodiscard]] tg::Result<ServerProcess> server_process_open(int socket_fd, uid_t owner);

// pidfd_send_signal(); never kill(). Reason "signal-failed".
[[nodiscard]] tg::Result<void> server_process_signal(const ServerProcess& p, int sig);

// Whether the process has exited (its pidfd polls readable).
[[nodiscard]] bool server_process_exited(const ServerProcess& p);

}  // namespace tgcli
