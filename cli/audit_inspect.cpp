// audit, stage 2: each socket by descriptor (audit.hpp).
//
// Contract for inspect():
//  1. every path is walked from "/" by audit_walk (nothing followed); the
//     owner, mode and access ACL of every directory and of the socket come
//     from fstat and acl_read_fd on the descriptors of that walk, each inode
//     read once;
//  2. only sockets are kept, each inode once (hard links, repeated paths);
//  3. the listener is found by a non-blocking connect() through
//     /proc/self/fd/N of the walked inode, never the path: no wait (a full
//     backlog is EAGAIN: live), nothing sent, closed at once; ECONNREFUSED
//     is a stale socket; a caller refused by the socket's permissions falls
//     back to /proc/net/unix (a listener with that path: live);
//  4. the listener is "tmux" when its /proc/PID/comm starts with "tmux"
//     (a tmux server names itself "tmux: server"); that name is the
//     process's own claim and only decides whether audit asks it anything,
//     as its own uid;
//  5. a server may be asked (by a tmux client that runs as its uid and
//     opens the socket by path) only when all of these hold, so that
//     nobody else can put their own server behind that path between the
//     check and the query, nor make audit pick the uid: the uid and pid
//     came from SO_PEERCRED of audit's own connection (never from
//     /proc/net/unix, whose paths can fake lines); the socket file is owned
//     by that uid; the process still runs as that uid; every directory on
//     the path is owned by root or that uid and writable by neither group
//     nor other, except a root-owned sticky directory whose next component
//     is root's or that uid's (the rule of pathwalk.hpp).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "audit.hpp"
#include "audit_walk.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgcli::audit {
namespace {

// What a connect told about the listener.
struct Probe {
    Liveness state = Liveness::unknown;
    pid_t pid = 0;
    std::optional<uid_t> uid;
    bool stream = true;  // false: a datagram or seqpacket socket (not tmux)
};

// Owner, group, mode and ACL of the inode behind `fd` (clause 1).
InodeFacts facts_read(int fd, const struct stat& st)
{
    InodeFacts f;
    f.uid = st.st_uid;
    f.gid = st.st_gid;
    f.mode = st.st_mode;
    tg::Result<std::vector<tg::AclEntry>> acl = tg::acl_read_fd(fd);
    f.acl_ok = acl.has_value();
    if (acl)
        f.acl = std::move(*acl);
    return f;
}

// Records the inode's facts once.
InodeKey inode_note(Inodes& inodes, int fd, const struct stat& st)
{
    const InodeKey key{st.st_dev, st.st_ino};
    if (!inodes.facts.contains(key))
        inodes.facts.emplace(key, facts_read(fd, st));
    return key;
}

// Connects to the inode behind the O_PATH descriptor (clause 3).
Probe socket_probe(int fd, const std::string& path, const Discovery& d)
{
    Probe p;
    const std::string proc = tg::fd_proc_path(fd);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, proc.c_str(), proc.size() + 1);
    const auto len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + proc.size() + 1);
    tg::UniqueFd conn(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int rc = -1;
    do {
        rc = conn.valid() ? ::connect(conn.get(), reinterpret_cast<const struct sockaddr*>(&addr), len) : -1;
    } while (rc != 0 && errno == EINTR);
    const int err = rc == 0 ? 0 : errno;
    if (rc == 0) {
        struct ucred cred {};
        socklen_t clen = sizeof cred;
        p.state = Liveness::live;
        if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && clen == sizeof cred) {
            p.pid = cred.pid;
            p.uid = cred.uid;
        }
    } else if (err == EAGAIN) {
        p.state = Liveness::live;
    } else if (err == ECONNREFUSED) {
        p.state = Liveness::stale;
    } else if (err == EPROTOTYPE) {
        p.stream = false;
    } else if (err == EACCES || err == EPERM) {
        p.state = d.listening.contains(path) ? Liveness::live : Liveness::stale;
    }
    return p;
}

// The process's comm, "" when gone.
std::string proc_comm(pid_t pid)
{
    tg::UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/comm").c_str(), O_RDONLY | O_CLOEXEC));
    char buf[64] = {};
    ssize_t n = fd.valid() ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The effective uid of a process ("Uid:" of /proc/PID/status, readable by all).
std::optional<uid_t> proc_uid(pid_t pid)
{
    tg::UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/status").c_str(), O_RDONLY | O_CLOEXEC));
    char buf[4096] = {};
    ssize_t n = fd.valid() ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
    if (n <= 0)
        return std::nullopt;
    const char* line = std::strstr(buf, "\nUid:");
    unsigned long real = 0;
    unsigned long eff = 0;
    if (line == nullptr || std::sscanf(line, "\nUid: %lu %lu", &real, &eff) != 2)
        return std::nullopt;
    return static_cast<uid_t>(eff);
}

// The listener: pid and uid from the probe, else from the /proc match;
// whether it is tmux (clause 4).
void listener_name(Socket& s, const Probe& p, const Discovery& d)
{
    s.state = p.state;
    s.pid = p.pid;
    s.server_uid = p.uid;
    s.peer_cred = p.pid != 0 && p.uid.has_value();
    auto it = d.tmux_listeners.find(s.path);
    if (s.pid == 0 && it != d.tmux_listeners.end() && s.state == Liveness::live)
        s.pid = it->second;
    if (s.state != Liveness::live)
        return;
    const std::optional<uid_t> now = s.pid != 0 ? proc_uid(s.pid) : std::nullopt;
    if (!s.server_uid)
        s.server_uid = now;
    s.peer_cred = s.peer_cred && now == s.server_uid;
    s.tmux = s.pid != 0 ? proc_comm(s.pid).starts_with("tmux") : it != d.tmux_listeners.end();
}

// "/a/b/sock" -> {"/", "/a", "/a/b"}: the directories of audit_walk's visits.
std::vector<std::string> path_dirs(const std::string& path)
{
    std::vector<std::string> out{"/"};
    for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1))
        out.push_back(path.substr(0, pos));
    return out;
}

// The first directory on the path that someone other than root and `uid`
// could change entries of (clause 5), with its owner and mode; "" if none.
std::string path_open_dir(const Socket& s, const Inodes& inodes, uid_t uid, std::string& detail)
{
    const std::vector<std::string> names = path_dirs(s.path);
    for (std::size_t i = 0; i < s.dirs.size() && i < names.size(); ++i) {
        const InodeFacts& dir = inodes.facts.at(s.dirs[i]);
        const uid_t next = i + 1 < s.dirs.size() ? inodes.facts.at(s.dirs[i + 1]).uid : s.facts.uid;
        const bool owner_ok = dir.uid == 0 || dir.uid == uid;
        const bool closed = (dir.mode & (S_IWGRP | S_IWOTH)) == 0;
        const bool sticky_ok = (dir.mode & S_ISVTX) != 0 && dir.uid == 0 && (next == 0 || next == uid);
        if (!owner_ok || (!closed && !sticky_ok)) {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(dir.mode & 07777));
            detail = "owner " + account_name(dir.uid) + ", mode " + mode;
            return names[i];
        }
    }
    return {};
}

// Clause 5: whether tmux may be asked, as the server's uid.
bool socket_queryable(const Socket& s)
{
    return s.state == Liveness::live && s.tmux && s.peer_cred && s.server_uid &&
           s.facts.uid == *s.server_uid && s.open_dir.empty();
}

// The share whose socket is at `path`, or null.
const tg::CompiledShare* share_at(const tg::CompiledPolicy* policy, const std::string& path)
{
    if (policy == nullptr)
        return nullptr;
    for (const tg::CompiledShare& s : policy->shares) {
        if (path_absolute(s.socket) == path)
            return &s;
    }
    return nullptr;
}

// Counts of paths that could not be judged, by kind.
struct Skipped {
    std::size_t denied = 0;
    std::vector<std::string> other;
};

// Walks one path; a Socket when it is a stream socket.
std::optional<Socket> socket_inspect(const std::string& path, const Discovery& d, Inodes& inodes,
                                     Skipped& skipped)
{
    Socket s;
    s.path = path;
    const WalkVisit visit = [&](int fd, const struct stat& st) { s.dirs.push_back(inode_note(inodes, fd, st)); };
    struct stat st {};
    tg::Result<tg::UniqueFd> fd = audit_walk(path, &visit, st);
    if (!fd) {
        if (fd.error().reason == "path-denied")
            ++skipped.denied;
        else if (fd.error().reason != "path-missing")
            skipped.other.push_back(path + ": " + fd.error().detail);
        return std::nullopt;
    }
    if (!S_ISSOCK(st.st_mode))
        return std::nullopt;
    s.key = inode_note(inodes, fd->get(), st);
    s.facts = inodes.facts.at(s.key);
    Probe p = socket_probe(fd->get(), path, d);
    if (!p.stream)
        return std::nullopt;
    listener_name(s, p, d);
    s.open_dir = path_open_dir(s, inodes, s.owner_uid(), s.open_dir_detail);
    s.queryable = socket_queryable(s);
    return s;
}

}  // namespace

// Stage 2 (contract above).
std::vector<Socket> inspect(const Discovery& d, const tg::CompiledPolicy* policy, Inodes& inodes,
                            std::vector<std::string>& limits)
{
    std::vector<Socket> out;
    std::set<InodeKey> seen;
    Skipped skipped;
    for (const std::string& path : d.paths) {
        std::optional<Socket> s = socket_inspect(path, d, inodes, skipped);
        if (!s || !seen.insert(s->key).second)
            continue;
        s->share = share_at(policy, s->path);
        out.push_back(std::move(*s));
    }
    if (skipped.denied != 0)
        limits.push_back("could not reach " + counted(skipped.denied, "socket", "sockets") +
                         " (permission denied on the way; run as root)");
    limits.insert(limits.end(), skipped.other.begin(), skipped.other.end());
    return out;
}

}  // namespace tgcli::audit
