// audit, stage 1: which socket paths to look at (audit.hpp).
//
// Contract for discovery:
//  1. nothing is followed: directories are opened from "/" one component at
//     a time with O_PATH|O_NOFOLLOW (audit_walk), and scanned through the
//     descriptor so opened; a symlink is reported, never entered;
//  2. every loop is bounded: lines of /proc/net/unix, processes, descriptors
//     per process, entries per directory (kMaxDirEntries), depth
//     (kPathScanDepth), sockets in all (kMaxSockets); hitting a bound is
//     reported as a limit;
//  3. what the caller may not see (another user's /proc/PID/fd, a 0700
//     directory) is counted and reported, never an error;
//  4. /proc/net/unix is only a hint (a path there may hold a newline and
//     fake a line): every path it names is walked and judged like any other.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "audit.hpp"
#include "audit_walk.hpp"
#include "cli.hpp"
#include "tmuxguard/paths.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgcli::audit {
namespace {

constexpr std::size_t kMaxProcFile = 64U << 20U;    // /proc/net/unix
constexpr std::size_t kMaxProcesses = 1U << 20U;
constexpr std::size_t kMaxFdsPerProcess = 1U << 16U;
constexpr unsigned long kSoAcceptCon = 0x10000;     // __SO_ACCEPTCON: listening

// A listening unix socket with a path: its socket inode and the path.
struct Listener {
    unsigned long long inode = 0;
    std::string path;
};

// Everything readable from an already open descriptor, at most `max` bytes.
tg::Result<std::string> fd_read_all(int fd, std::size_t max, const std::string& shown)
{
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tg::fail("discovery-failed", errno, shown, "read");
        if (n == 0)
            return out;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max)
            return tg::fail("discovery-failed", 0, shown, "larger than expected");
    }
}

// One line of /proc/net/unix: "Num RefCount Protocol Flags Type St Inode [Path]".
std::optional<Listener> unix_line_parse(std::string_view line)
{
    std::size_t pos = 0;
    std::string_view fields[7];
    for (std::string_view& f : fields) {
        while (pos < line.size() && line[pos] == ' ')
            ++pos;
        std::size_t end = line.find(' ', pos);
        if (end == std::string_view::npos)
            end = line.size();
        f = line.substr(pos, end - pos);
        pos = end;
    }
    if (pos + 1 >= line.size() || line[pos + 1] != '/')
        return std::nullopt;  // unbound or abstract ("@...")
    const std::string flags(fields[3]);
    const std::string inode(fields[6]);
    char* end = nullptr;
    const unsigned long f = std::strtoul(flags.c_str(), &end, 16);
    if (end == flags.c_str() || *end != '\0' || (f & kSoAcceptCon) == 0)
        return std::nullopt;
    const unsigned long long ino = std::strtoull(inode.c_str(), &end, 10);
    if (end == inode.c_str() || *end != '\0')
        return std::nullopt;
    return Listener{ino, std::string(line.substr(pos + 1))};
}

// Every listening unix socket with a path (/proc/net/unix, this network
// namespace).
tg::Result<std::vector<Listener>> unix_listeners_read()
{
    tg::UniqueFd fd(::open("/proc/net/unix", O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
        return tg::fail("discovery-failed", errno, "/proc/net/unix", "cannot open");
    tg::Result<std::string> text = fd_read_all(fd.get(), kMaxProcFile, "/proc/net/unix");
    if (!text)
        return std::unexpected(text.error());
    std::vector<Listener> out;
    std::size_t pos = text->find('\n');  // the header
    while (pos != std::string::npos && pos + 1 < text->size()) {
        std::size_t end = text->find('\n', pos + 1);
        std::string_view line(text->data() + pos + 1,
                              (end == std::string::npos ? text->size() : end) - pos - 1);
        if (std::optional<Listener> l = unix_line_parse(line))
            out.push_back(std::move(*l));
        pos = end;
    }
    return out;
}

// Whether a /proc entry name is a pid.
bool name_is_pid(const char* name)
{
    if (*name == '\0')
        return false;
    for (const char* p = name; *p != '\0'; ++p) {
        if (*p < '0' || *p > '9')
            return false;
    }
    return true;
}

// The process's comm ("tmux: server" for a tmux server), "" if unreadable.
std::string proc_comm_at(int proc_fd, const std::string& pid)
{
    tg::UniqueFd fd(::openat(proc_fd, (pid + "/comm").c_str(), O_RDONLY | O_CLOEXEC));
    char buf[64] = {};
    ssize_t n = fd.valid() ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The socket inodes among the process's descriptors ("socket:[N]");
// false when /proc/PID/fd cannot be read (another user's process).
bool proc_socket_inodes(int proc_fd, const std::string& pid, std::vector<unsigned long long>& out)
{
    tg::UniqueFd dir(::openat(proc_fd, (pid + "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DIR* d = dir.valid() ? ::fdopendir(dir.get()) : nullptr;
    if (d == nullptr)
        return false;
    const int dfd = dir.release();
    std::size_t seen = 0;
    for (struct dirent* e = ::readdir(d); e != nullptr && seen < kMaxFdsPerProcess; e = ::readdir(d)) {
        ++seen;
        char link[64] = {};
        ssize_t n = ::readlinkat(dfd, e->d_name, link, sizeof link - 1);
        unsigned long long ino = 0;
        if (n > 0 && std::sscanf(link, "socket:[%llu]", &ino) == 1)
            out.push_back(ino);
    }
    ::closedir(d);
    return true;
}

// Maps listening inodes to the tmux processes holding them; counts the tmux
// processes whose descriptors the caller may not read.
std::map<unsigned long long, pid_t> tmux_holders_scan(const std::set<unsigned long long>& listening,
                                                      std::size_t& private_tmux)
{
    std::map<unsigned long long, pid_t> out;
    tg::UniqueFd proc(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DIR* d = proc.valid() ? ::fdopendir(::dup(proc.get())) : nullptr;
    if (d == nullptr)
        return out;
    std::size_t seen = 0;
    for (struct dirent* e = ::readdir(d); e != nullptr && seen < kMaxProcesses; e = ::readdir(d)) {
        if (!name_is_pid(e->d_name))
            continue;
        ++seen;
        const std::string pid = e->d_name;
        if (!proc_comm_at(proc.get(), pid).starts_with("tmux"))
            continue;
        std::vector<unsigned long long> inodes;
        if (!proc_socket_inodes(proc.get(), pid, inodes)) {
            ++private_tmux;
            continue;
        }
        for (unsigned long long ino : inodes) {
            if (listening.contains(ino))
                out.emplace(ino, static_cast<pid_t>(std::strtol(pid.c_str(), nullptr, 10)));
        }
    }
    ::closedir(d);
    return out;
}

// Collects socket paths, once each, up to kMaxSockets.
class PathSink {
public:
    explicit PathSink(Discovery& d) : d_(d) {}
    void add(const std::string& path)
    {
        if (seen_.contains(path))
            return;
        if (d_.paths.size() >= kMaxSockets) {
            full_ = true;
            return;
        }
        seen_.insert(path);
        d_.paths.push_back(path);
    }
    [[nodiscard]] bool full() const { return full_; }

private:
    Discovery& d_;
    std::set<std::string> seen_;
    bool full_ = false;
};

// "DIR/NAME" without a doubled slash under "/".
std::string path_join(const std::string& dir, const char* name)
{
    return (dir == "/" ? "" : dir) + "/" + name;
}

// The type of an entry, from readdir or (DT_UNKNOWN) fstatat without following.
unsigned char entry_type(int dirfd, const struct dirent* e)
{
    if (e->d_type != DT_UNKNOWN)
        return e->d_type;
    struct stat st {};
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return DT_UNKNOWN;
    return S_ISSOCK(st.st_mode) ? DT_SOCK : S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
}

// Adds the sockets in the directory open (readable) at `dirfd`, descending
// `depth` more levels. With `prefix`, only subdirectories named PREFIX* are
// entered and sockets at this level are left out (/tmp: only /tmp/tmux-*/).
void dir_scan(tg::UniqueFd dirfd, const std::string& path, int depth, Discovery& d,
              PathSink& sink, const char* prefix = nullptr)
{
    DIR* dir = ::fdopendir(dirfd.get());
    if (dir == nullptr)
        return;
    const int fd = dirfd.release();
    std::size_t entries = 0;
    for (struct dirent* e = ::readdir(dir); e != nullptr; e = ::readdir(dir)) {
        if (++entries > kMaxDirEntries) {
            d.limits.push_back(path + ": more than " + std::to_string(kMaxDirEntries) +
                               " entries; the rest were not read");
            break;
        }
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
            continue;
        const unsigned char type = entry_type(fd, e);
        if (type == DT_SOCK && prefix == nullptr) {
            sink.add(path_join(path, e->d_name));
        } else if (type == DT_DIR && depth > 0 &&
                   (prefix == nullptr || std::strncmp(e->d_name, prefix, std::strlen(prefix)) == 0)) {
            tg::UniqueFd sub(::openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub.valid() && (errno == EACCES || errno == EPERM))
                ++d.dirs_unreadable;
            else if (sub.valid())
                dir_scan(std::move(sub), path_join(path, e->d_name), depth - 1, d, sink);
        }
    }
    ::closedir(dir);
}

// Opens the directory at `path` for reading through audit_walk (nothing
// followed); permission problems are counted, a missing one is not.
void dir_scan_path(const std::string& path, int depth, Discovery& d, PathSink& sink,
                   const char* prefix = nullptr)
{
    struct stat st {};
    tg::Result<tg::UniqueFd> fd = audit_walk(path, nullptr, st);
    if (!fd) {
        if (fd.error().reason == "path-denied")
            ++d.dirs_unreadable;
        return;
    }
    if (!S_ISDIR(st.st_mode))
        return;
    tg::UniqueFd readable(::openat(fd->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!readable.valid()) {
        if (errno == EACCES || errno == EPERM)
            ++d.dirs_unreadable;
        return;
    }
    dir_scan(std::move(readable), path, depth, d, sink, prefix);
}

// Listeners of this namespace: the paths anyone listens on, and those a
// tmux process holds. A failure is returned for the caller to judge.
tg::Result<void> listeners_collect(Discovery& d, PathSink* sink)
{
    tg::Result<std::vector<Listener>> listeners = unix_listeners_read();
    if (!listeners)
        return std::unexpected(listeners.error());
    std::set<unsigned long long> inodes;
    for (const Listener& l : *listeners) {
        inodes.insert(l.inode);
        d.listening.insert(l.path);
    }
    std::size_t private_tmux = 0;
    for (const auto& [ino, pid] : tmux_holders_scan(inodes, private_tmux)) {
        for (const Listener& l : *listeners) {
            if (l.inode != ino)
                continue;
            d.tmux_listeners[l.path] = pid;
            if (sink != nullptr)
                sink->add(l.path);
        }
    }
    if (private_tmux != 0)
        d.limits.push_back("could not match " + counted(private_tmux, "tmux process", "tmux processes") +
                           " of other users to their sockets (their /proc/PID/fd "
                           "is private; run as root)");
    return {};
}

// Without operands: listeners held by tmux, /tmp/tmux-*, the runtime
// directory, every share's socket.
tg::Result<void> discover_machine(Discovery& d, PathSink& sink, const tg::CompiledPolicy* policy)
{
    if (tg::Result<void> ok = listeners_collect(d, &sink); !ok)
        return ok;
    dir_scan_path("/tmp", 1, d, sink, "tmux-");
    const std::string runtime = policy != nullptr ? policy->runtime_dir : tg::paths::default_runtime_dir;
    dir_scan_path(runtime, 2, d, sink);
    if (policy != nullptr) {
        for (const tg::CompiledShare& s : policy->shares)
            sink.add(s.socket);
    }
    return {};
}

// One operand: a socket, or a directory scanned kPathScanDepth deep.
tg::Result<void> discover_operand(const std::string& operand, Discovery& d, PathSink& sink)
{
    const std::string path = path_absolute(operand);
    if (path.empty())
        return tg::fail("discovery-failed", 0, operand, "not a usable path");
    struct stat st {};
    tg::Result<tg::UniqueFd> fd = audit_walk(path, nullptr, st);
    if (!fd && fd.error().reason == "path-missing")
        return tg::fail("discovery-failed", fd.error().err, path, "no such file or directory");
    if (!fd) {
        d.limits.push_back("could not look at " + path + ": " + fd.error().detail);
        return {};
    }
    if (S_ISSOCK(st.st_mode))
        sink.add(path);
    else if (S_ISDIR(st.st_mode))
        dir_scan_path(path, kPathScanDepth, d, sink);
    else
        d.limits.push_back(path + ": not a socket or a directory");
    return {};
}

}  // namespace

// Lexical: the walk that follows refuses symlinks, so no component of the
// result can mean something else than it reads.
std::string path_absolute(const std::string& path)
{
    std::string full = path;
    if (full.empty() || full.find('\0') != std::string::npos)
        return {};
    if (full[0] != '/') {
        char cwd[PATH_MAX];
        if (::getcwd(cwd, sizeof cwd) == nullptr)
            return {};
        full = std::string(cwd) + "/" + full;
    }
    std::vector<std::string> parts;
    std::size_t pos = 0;
    while (pos < full.size()) {
        std::size_t end = full.find('/', pos);
        if (end == std::string::npos)
            end = full.size();
        std::string part = full.substr(pos, end - pos);
        if (part == "..") {
            if (!parts.empty())
                parts.pop_back();
        } else if (!part.empty() && part != ".") {
            parts.push_back(std::move(part));
        }
        pos = end + 1;
    }
    std::string out;
    for (const std::string& p : parts)
        out += "/" + p;
    return out.empty() ? "/" : out;
}

// Stage 1 (contract above).
tg::Result<Discovery> discover(const std::vector<std::string>& operands,
                               const tg::CompiledPolicy* policy)
{
    Discovery d;
    PathSink sink(d);
    if (operands.empty()) {
        if (tg::Result<void> ok = discover_machine(d, sink, policy); !ok)
            return std::unexpected(ok.error());
    } else {
        for (const std::string& op : operands) {
            if (tg::Result<void> ok = discover_operand(op, d, sink); !ok)
                return std::unexpected(ok.error());
        }
        if (tg::Result<void> ok = listeners_collect(d, nullptr); !ok)
            d.limits.push_back("cannot read the machine's listeners: " + ok.error().message());
    }
    if (d.dirs_unreadable != 0)
        d.limits.push_back("could not look into " + counted(d.dirs_unreadable, "directory", "directories") +
                           " (permission denied; run as root)");
    if (sink.full())
        d.limits.push_back("stopped at " + std::to_string(kMaxSockets) + " sockets; the rest were not inspected");
    return d;
}

}  // namespace tgcli::audit
