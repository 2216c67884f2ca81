#include "ops_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "tmuxguard/pathwalk.hpp"

// Linux 6.5 (include/uapi/asm-generic/socket.h); glibc 2.36 does not know it.
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

namespace tgcli {

namespace {

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (its declarations link as C++
// names), so the two calls go through syscall(2): pidfd_open(pid, 0).
int pidfd_open_call(pid_t pid)
{
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

// pidfd_send_signal(pidfd, sig, NULL, 0).
int pidfd_signal_call(int pidfd, int sig)
{
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0U));
}

// As in peer.cpp: connect only waits when the backlog is full.
constexpr time_t kConnectTimeoutSeconds = 2;
constexpr std::size_t kProcFileMax = 8192;

// A connection to the inode behind the O_PATH descriptor, by
// /proc/self/fd/N. (peer.cpp has the same steps but closes the connection
// inside peer_verify; SO_PEERPIDFD needs it open.)
tg::Result<tg::UniqueFd> socket_connect_proc(int socket_fd)
{
    const std::string proc = tg::fd_proc_path(socket_fd);
    struct stat st {};
    if (::fstat(socket_fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return tg::fail("connect-failed", errno != 0 ? errno : ENOTSOCK, proc);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    static_assert(sizeof addr.sun_path > sizeof "/proc/self/fd/-2147483648");
    std::memcpy(addr.sun_path, proc.c_str(), proc.size() + 1);
    const auto len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + proc.size() + 1);
    tg::UniqueFd conn(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const struct timeval timeout {kConnectTimeoutSeconds, 0};
    if (!conn.valid() ||
        ::setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0)
        return tg::fail("connect-failed", errno, proc, "socket");
    int rc = 0;
    do {
        rc = ::connect(conn.get(), reinterpret_cast<const struct sockaddr*>(&addr), len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return tg::fail(errno == ECONNREFUSED ? "server-not-running" : "connect-failed", errno, proc);
    return conn;
}

// SO_PEERCRED of a connection, checked against the owner.
tg::Result<struct ucred> peer_cred_read(int conn, uid_t owner)
{
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
        return tg::fail("connect-failed", errno, {}, "SO_PEERCRED");
    if (cred.uid != owner || cred.pid <= 0)
        return tg::fail("peer-mismatch", 0, {},
                        "server uid " + std::to_string(cred.uid) + ", expected " + std::to_string(owner));
    return cred;
}

// A small /proc file, whole; nullopt if unreadable.
std::optional<std::string> proc_file_read(const std::string& path)
{
    tg::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid())
        return std::nullopt;
    std::string text(kProcFileMax, '\0');
    ssize_t n = 0;
    do {
        n = ::read(fd.get(), text.data(), text.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return std::nullopt;
    text.resize(static_cast<std::size_t>(n));
    return text;
}

// The first blank-separated word after "KEY:\t" in a /proc status-like text.
std::optional<std::string> proc_field(const std::string& text, std::string_view key, std::size_t word)
{
    const std::string tag = "\n" + std::string(key) + ":";
    std::size_t at = ("\n" + text).find(tag);
    if (at == std::string::npos)
        return std::nullopt;
    std::size_t pos = at + tag.size() - 1;  // index in `text`
    std::size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end == std::string::npos ? end : end - pos);
    std::size_t i = 0;
    for (std::size_t w = 0; w <= word; ++w) {
        i = line.find_first_not_of(" \t", i);
        if (i == std::string::npos)
            return std::nullopt;
        std::size_t j = line.find_first_of(" \t", i);
        if (w == word)
            return line.substr(i, j == std::string::npos ? j : j - i);
        i = j;
    }
    return std::nullopt;
}

// Whether the pidfd's process is alive (signal 0 through it).
bool pidfd_alive(int pidfd)
{
    return pidfd_signal_call(pidfd, 0) == 0;
}

// Clause 3: pidfd_open, the process's uid, the listener again, still alive.
tg::Result<tg::UniqueFd> pidfd_open_checked(int socket_fd, pid_t pid, uid_t owner)
{
    tg::UniqueFd pidfd(pidfd_open_call(pid));
    if (!pidfd.valid())
        return tg::fail("pidfd-failed", errno, "pid " + std::to_string(pid), "pidfd_open");
    std::optional<std::string> status = proc_file_read("/proc/" + std::to_string(pid) + "/status");
    const std::string want = std::to_string(owner);
    if (!status || proc_field(*status, "Uid", 0) != want || proc_field(*status, "Uid", 1) != want)
        return tg::fail("server-changed", 0, "pid " + std::to_string(pid),
                        "the process is not the owner's (uid " + want + ")");
    tg::Result<tg::UniqueFd> conn = socket_connect_proc(socket_fd);
    if (!conn)
        return std::unexpected(conn.error());
    tg::Result<struct ucred> again = peer_cred_read(conn->get(), owner);
    if (!again)
        return std::unexpected(again.error());
    if (again->pid != pid || !pidfd_alive(pidfd.get()))
        return tg::fail("server-changed", 0, "pid " + std::to_string(pid),
                        "the listener changed while it was being checked");
    return pidfd;
}

// Clause 4: /proc/self/fdinfo/N of a pidfd says "Pid:\tPID".
bool pidfd_names(int pidfd, pid_t pid)
{
    std::optional<std::string> info = proc_file_read("/proc/self/fdinfo/" + std::to_string(pidfd));
    return info && proc_field(*info, "Pid", 0) == std::to_string(pid);
}

}  // namespace

// Connect, SO_PEERCRED, then SO_PEERPIDFD or pidfd_open with re-checks.
tg::Result<ServerProcess> server_process_open(int socket_fd, uid_t owner)
{
    tg::Result<tg::UniqueFd> conn = socket_connect_proc(socket_fd);
    if (!conn)
        return std::unexpected(conn.error());
    tg::Result<struct ucred> cred = peer_cred_read(conn->get(), owner);
    if (!cred)
        return std::unexpected(cred.error());
    ServerProcess p;
    p.pid = cred->pid;
    int fd = -1;
    socklen_t len = sizeof fd;
    if (::getsockopt(conn->get(), SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && len == sizeof fd) {
        p.pidfd.reset(fd);
        p.from_peer = true;
    } else if (errno == ENOPROTOOPT || errno == EINVAL) {
        tg::Result<tg::UniqueFd> opened = pidfd_open_checked(socket_fd, p.pid, owner);
        if (!opened)
            return std::unexpected(opened.error());
        p.pidfd = std::move(*opened);
    } else {
        return tg::fail("pidfd-failed", errno, "pid " + std::to_string(p.pid), "SO_PEERPIDFD");
    }
    if (!pidfd_names(p.pidfd.get(), p.pid))
        return tg::fail("server-changed", 0, "pid " + std::to_string(p.pid),
                        "the pidfd does not name the listener's pid");
    return p;
}

// pidfd_send_signal, nothing else.
tg::Result<void> server_process_signal(const ServerProcess& p, int sig)
{
    if (pidfd_signal_call(p.pidfd.get(), sig) != 0)
        return tg::fail("signal-failed", errno, "pid " + std::to_string(p.pid), "pidfd_send_signal");
    return {};
}

// A pidfd polls readable once its process has exited.
bool server_process_exited(const ServerProcess& p)
{
    struct pollfd pfd {p.pidfd.get(), POLLIN, 0};
    return ::poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

}  // namespace tgcli
