// Connecting to a verified socket and asking the kernel who listens (peer.hpp).
#include "tmuxguard/peer.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "tmuxguard/pathwalk.hpp"

namespace tg {
namespace {

// A connect to a listening unix socket only waits when its backlog is full;
// SO_SNDTIMEO bounds that wait.
constexpr time_t kConnectTimeoutSeconds = 2;

// Reason for a failed connect.
const char* peer_connect_reason(int err)
{
    switch (err) {
    case ECONNREFUSED:  // nobody listens on that inode: a stale socket
        return "server-not-running";
    case ENOENT:
        return "socket-missing";
    default:
        return "connect-failed";
    }
}

// Connects to the inode behind the O_PATH descriptor `socket_fd` by naming
// /proc/self/fd/N, never the socket's path, so a socket swapped in at that
// path after the walk cannot be reached. `socket_fd` must be open and a
// socket first: a closed number would be taken by our own new socket, and
// the connect would go to that.
Result<UniqueFd> peer_connect(int socket_fd)
{
    const std::string proc = fd_proc_path(socket_fd);
    struct stat st {};
    if (::fstat(socket_fd, &st) != 0)
        return fail("connect-failed", errno, proc, "fstat");
    if (!S_ISSOCK(st.st_mode))
        return fail("connect-failed", ENOTSOCK, proc);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    static_assert(sizeof addr.sun_path > sizeof "/proc/self/fd/-2147483648");
    std::memcpy(addr.sun_path, proc.c_str(), proc.size() + 1);
    const auto len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + proc.size() + 1);

    UniqueFd conn(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!conn.valid())
        return fail("connect-failed", errno, proc, "socket");
    const struct timeval timeout {kConnectTimeoutSeconds, 0};
    if (::setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0)
        return fail("connect-failed", errno, proc, "SO_SNDTIMEO");
    int rc = 0;
    do {
        rc = ::connect(conn.get(), reinterpret_cast<const struct sockaddr*>(&addr), len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return fail(peer_connect_reason(errno), errno, proc);
    return conn;
}

}  // namespace

// Connects through /proc/self/fd/N and checks SO_PEERCRED against `owner`.
Result<PeerInfo> peer_verify(int socket_fd, uid_t owner)
{
    auto conn = peer_connect(socket_fd);
    if (!conn)
        return std::unexpected(conn.error());
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(conn->get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
        return fail("connect-failed", errno, fd_proc_path(socket_fd), "SO_PEERCRED");
    if (cred.uid != owner)
        return fail("peer-mismatch", 0, fd_proc_path(socket_fd),
                    "server uid " + std::to_string(cred.uid) + ", expected " +
                        std::to_string(owner));
    return PeerInfo{cred.pid, cred.uid, cred.gid};
}

}  // namespace tg
