// Connecting to a verified socket and checking who is listening.
#pragma once

#include <sys/types.h>

#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tg {

struct PeerInfo {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

// Connects (AF_UNIX, SOCK_STREAM, CLOEXEC) to the socket behind the O_PATH
// descriptor `socket_fd` through /proc/self/fd/N, reads SO_PEERCRED, closes
// the connection. Reasons: "server-not-running" (ECONNREFUSED: a stale
// socket), "socket-missing" (ENOENT), "peer-mismatch" (uid differs from
// `owner`), "connect-failed" (anything else, errno kept).
[[nodiscard]] Result<PeerInfo> peer_verify(int socket_fd, uid_t owner);

}  // namespace tg
