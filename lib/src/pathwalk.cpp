// Secure path walking by descriptor (pathwalk.hpp; its numbered contract is
// what every function here implements, and the tests name its clauses).
#include "tmuxguard/pathwalk.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

#include "tmuxguard/acl.hpp"

namespace tg {
namespace {

// Real paths here are a handful of components deep; anything deeper is not
// a path we were configured with (clause 4).
constexpr std::size_t kMaxComponents = 32;

// Which directories a walk accepts, and how it names a path that is missing.
struct WalkRule {
    bool trusted = true;                   // trusted files: root only, no sticky exception
    uid_t owner = 0;                       // socket walk: root or this uid
    const char* missing = "path-missing";  // reason for ENOENT
};

// The directory that holds the last component, and that component's name.
struct ParentDir {
    UniqueFd fd;
    std::string name;
};

// "uid 1000, mode 0775" for the detail of a refusal.
std::string stat_describe(const struct stat& st)
{
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return "uid " + std::to_string(st.st_uid) + ", mode " + mode;
}

// Splits an absolute path into its components, refusing relative paths,
// empty, "." and ".." components, NUL bytes and anything over the caps
// (clause 4). "/" itself has no component and is refused too.
Result<std::vector<std::string>> path_split(const std::string& path)
{
    if (path.empty() || path.front() != '/')
        return fail("path-invalid", 0, path, "not an absolute path");
    if (path.size() >= PATH_MAX || path.find('\0') != std::string::npos)
        return fail("path-invalid", 0, path, "too long or holds a NUL byte");
    std::vector<std::string> parts;
    std::string_view rest(path);
    while (!rest.empty()) {
        rest.remove_prefix(1);  // the '/'
        const std::string_view comp = rest.substr(0, rest.find('/'));
        if (comp.empty() || comp == "." || comp == "..")
            return fail("path-invalid", 0, path, "empty, '.' or '..' component");
        if (comp.size() > NAME_MAX || parts.size() == kMaxComponents)
            return fail("path-invalid", 0, path, "component too long or too many components");
        parts.emplace_back(comp);
        rest.remove_prefix(comp.size());
    }
    return parts;
}

// Whether a directory's owner and write bits are acceptable under `rule`.
// The group bits of st_mode are the ACL mask when there is an ACL, so a
// named entry with write access shows up as group write (clause 5).
bool dir_mode_is_safe(const struct stat& st, const WalkRule& rule)
{
    const bool no_foreign_write = (st.st_mode & 022) == 0;
    if (rule.trusted)
        return st.st_uid == 0 && no_foreign_write;
    if (st.st_uid != 0 && st.st_uid != rule.owner)
        return false;
    // A root-owned sticky directory (/tmp): nobody else can replace our
    // entry in it, and the next component is judged in its own right.
    return no_foreign_write || (st.st_uid == 0 && (st.st_mode & S_ISVTX) != 0);
}

// Judges a directory through its descriptor (clauses 2, 3 and 5).
Result<void> dir_check(int fd, const std::string& shown, const WalkRule& rule)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return fail("path-error", errno, shown, "fstat");
    if (S_ISLNK(st.st_mode))
        return fail("path-symlink", 0, shown);
    if (!S_ISDIR(st.st_mode))
        return fail("path-unsafe-dir", 0, shown, "not a directory");
    if (!dir_mode_is_safe(st, rule))
        return fail("path-unsafe-dir", 0, shown, stat_describe(st));
    return {};
}

// Opens one component below `dirfd` as O_PATH without following a symlink
// (clause 1); a symlink comes back as itself, for the caller to refuse.
Result<UniqueFd> component_open(int dirfd, const std::string& name, const std::string& shown,
                                const WalkRule& rule)
{
    UniqueFd fd(::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
        return fail(errno == ENOENT ? rule.missing : "path-error", errno, shown);
    return fd;
}

// Walks from "/" through the first `count` components, each of which must
// be a directory acceptable under `rule`, and returns the last one's
// descriptor. "/" itself is checked too.
Result<UniqueFd> walk_dirs(const std::vector<std::string>& parts, std::size_t count,
                           const WalkRule& rule)
{
    UniqueFd dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid())
        return fail("path-error", errno, "/");
    if (auto ok = dir_check(dir.get(), "/", rule); !ok)
        return std::unexpected(ok.error());
    std::string shown;
    for (std::size_t i = 0; i < count; ++i) {
        shown += '/';
        shown += parts[i];
        auto next = component_open(dir.get(), parts[i], shown, rule);
        if (!next)
            return next;
        if (auto ok = dir_check(next->get(), shown, rule); !ok)
            return std::unexpected(ok.error());
        dir = std::move(*next);
    }
    return dir;
}

// Splits `path` and walks to the directory holding its last component.
Result<ParentDir> walk_to_parent(const std::string& path, const WalkRule& rule)
{
    auto parts = path_split(path);
    if (!parts)
        return std::unexpected(parts.error());
    auto dir = walk_dirs(*parts, parts->size() - 1, rule);
    if (!dir)
        return std::unexpected(dir.error());
    return ParentDir{std::move(*dir), std::move(parts->back())};
}

// Judges a trusted file through its descriptor: a regular file owned by
// root, not writable by group or other (the group bits cover the ACL mask).
Result<void> trusted_file_judge(int fd, const std::string& path)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return fail("path-error", errno, path, "fstat");
    if (S_ISLNK(st.st_mode))
        return fail("path-symlink", 0, path);
    if (!S_ISREG(st.st_mode))
        return fail("file-unsafe", 0, path, "not a regular file");
    if (st.st_uid != 0 || (st.st_mode & 022) != 0)
        return fail("file-unsafe", 0, path, stat_describe(st));
    return {};
}

// Reason for a failed open of the last component of a trusted file.
const char* trusted_open_reason(int err)
{
    switch (err) {
    case ENOENT:
        return "path-missing";
    case ELOOP:  // O_NOFOLLOW met a symlink
        return "path-symlink";
    case ENXIO:  // a socket (or a device without its driver): not a file
        return "file-unsafe";
    default:
        return "path-error";
    }
}

// Walks to a trusted file's directory, opens the last component with
// `flags` (which include O_NOFOLLOW) and judges that very descriptor.
Result<UniqueFd> trusted_file_open(const std::string& path, int flags)
{
    auto parent = walk_to_parent(path, WalkRule{});
    if (!parent)
        return std::unexpected(parent.error());
    UniqueFd fd(::openat(parent->fd.get(), parent->name.c_str(), flags));
    if (!fd.valid())
        return fail(trusted_open_reason(errno), errno, path);
    if (auto ok = trusted_file_judge(fd.get(), path); !ok)
        return std::unexpected(ok.error());
    return fd;
}

// Judges the last component of a socket walk: type, owner, then the ACL.
Result<void> socket_judge(int fd, const std::string& path, uid_t owner, gid_t gate_gid)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return fail("path-error", errno, path, "fstat");
    if (S_ISLNK(st.st_mode))
        return fail("path-symlink", 0, path);
    if (!S_ISSOCK(st.st_mode))
        return fail("not-a-socket", 0, path);
    if (st.st_uid != owner)
        return fail("socket-owner-mismatch", 0, path,
                    "owned by uid " + std::to_string(st.st_uid) + ", expected " +
                        std::to_string(owner));
    auto acl = socket_acl_check(fd, owner, st.st_gid, gate_gid);
    if (!acl) {
        Error e = acl.error();
        e.detail = path + (e.detail.empty() ? "" : ": " + e.detail);
        return std::unexpected(std::move(e));
    }
    return {};
}

}  // namespace

// Contract, in addition to pathwalk.hpp's:
//  a. the descriptor returned is the one the final fstat judged; the file is
//     never reopened by path;
//  b. the final open is O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (O_NONBLOCK
//     so a FIFO planted by root's mistake cannot hang the caller; it has no
//     effect on reads of a regular file) plus O_NOCTTY, so a terminal device
//     in a trusted directory can never become our controlling tty.
Result<UniqueFd> open_trusted_file(const std::string& path)
{
    return trusted_file_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
}

// As open_trusted_file(), but the last component is opened O_PATH: checking
// needs no read permission and opens no FIFO or device.
Result<void> check_trusted_file(const std::string& path)
{
    auto fd = trusted_file_open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (!fd)
        return std::unexpected(fd.error());
    return {};
}

// Walks to a share's socket, judges it and its ACL, returns its O_PATH fd.
Result<UniqueFd> socket_open_verified(const std::string& path, uid_t owner, gid_t gate_gid)
{
    const WalkRule rule{false, owner, "socket-missing"};
    auto parent = walk_to_parent(path, rule);
    if (!parent)
        return std::unexpected(parent.error());
    auto fd = component_open(parent->fd.get(), parent->name, path, rule);
    if (!fd)
        return fd;
    if (auto ok = socket_judge(fd->get(), path, owner, gate_gid); !ok)
        return std::unexpected(ok.error());
    return fd;
}

// Walks to a directory, judging every component (the last one too) with
// the socket walk's directory rule. The O_PATH descriptor is opened without
// O_DIRECTORY (which would hide a symlink behind ENOTDIR) and is a directory
// because dir_check() said so.
Result<UniqueFd> dir_open_verified(const std::string& path, uid_t owner)
{
    auto parts = path_split(path);
    if (!parts)
        return std::unexpected(parts.error());
    return walk_dirs(*parts, parts->size(), WalkRule{false, owner, "path-missing"});
}

// open_trusted_file(), then read to EOF, size-capped.
Result<std::string> read_trusted_file(const std::string& path, std::size_t max_bytes)
{
    Result<UniqueFd> fd = open_trusted_file(path);
    if (!fd)
        return std::unexpected(fd.error());
    std::string data;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd->get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("path-error", errno, path, "read failed");
        if (n == 0)
            return data;
        if (data.size() + static_cast<std::size_t>(n) > max_bytes)
            return fail("file-too-large", 0, path,
                        "larger than " + std::to_string(max_bytes) + " bytes");
        data.append(buf, static_cast<std::size_t>(n));
    }
}

// Walks to a directory of trusted configuration, judging every component
// (the last one too) with the trusted-file rule: root-owned, not writable by
// group or other, no sticky exception.
Result<UniqueFd> trusted_dir_open(const std::string& path)
{
    auto parts = path_split(path);
    if (!parts)
        return std::unexpected(parts.error());
    return walk_dirs(*parts, parts->size(), WalkRule{});
}

// "/proc/self/fd/N" for a descriptor.
std::string fd_proc_path(int fd)
{
    return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace tg
