// Runtime directories by descriptor (runtime_dir.hpp).
#include "tmuxguard/runtime_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "tmuxguard/acl.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"

namespace tg {
namespace {

// chmod of the inode behind an O_PATH descriptor.
Result<void> fd_chmod(int fd, mode_t mode, const std::string& shown)
{
    if (::chmod(fd_proc_path(fd).c_str(), mode) != 0)
        return fail("path-error", errno, shown, "cannot change mode");
    return {};
}

// "0777"
std::string mode_text(mode_t mode)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// Opens `name` under `dir_fd`, creating it as a root 0755 directory if missing.
Result<UniqueFd> dir_component_open(int dir_fd, const std::string& name, const std::string& shown)
{
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (fd.valid() || errno != ENOENT) {
        if (!fd.valid())
            return fail("path-error", errno, shown, "cannot open");
        return fd;
    }
    bool made = ::mkdirat(dir_fd, name.c_str(), 0700) == 0;
    if (!made && errno != EEXIST)
        return fail("path-error", errno, shown, "cannot create directory");
    fd.reset(::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
        return fail("path-error", errno, shown, "cannot open");
    struct stat st {};
    // Only the directory this call made gets its mode set (0700 & ~umask
    // first, so it is never wider than intended in between).
    if (made && ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0) {
        if (Result<void> ok = fd_chmod(fd.get(), 0755, shown); !ok)
            return std::unexpected(ok.error());
    }
    return fd;
}

// A directory owned by root and not writable by group or other.
Result<void> dir_root_judge(int fd, const std::string& shown)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return fail("path-error", errno, shown, "cannot stat");
    if (S_ISLNK(st.st_mode))
        return fail("path-symlink", 0, shown, "is a symbolic link");
    if (!S_ISDIR(st.st_mode))
        return fail("path-unsafe-dir", 0, shown, "not a directory");
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return fail("path-unsafe-dir", 0, shown, "not owned by root or writable by group or other");
    return {};
}

// Refuses what must be left alone: a symlink, a non-directory, another
// user's directory, someone's extra ACL entries, a default ACL.
Result<void> runtime_user_dir_judge(int fd, const struct stat& st, uid_t uid, gid_t gate_gid,
                                    const std::string& shown)
{
    if (S_ISLNK(st.st_mode))
        return fail("path-symlink", 0, shown, "is a symbolic link; left alone");
    if (!S_ISDIR(st.st_mode))
        return fail("path-unsafe-dir", 0, shown, "not a directory; left alone");
    if (st.st_uid != uid && st.st_uid != 0)
        return fail("path-unsafe-dir", 0, shown,
                    "owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                        std::to_string(uid) + "; left alone");
    Result<std::vector<AclEntry>> acl = acl_read_fd(fd);
    if (!acl)
        return std::unexpected(acl.error());
    if (Result<void> ok = runtime_dir_acl_judge(*acl, gate_gid); !ok)
        return fail("acl-overgrant", 0, shown, ok.error().subject + " is an extra ACL entry; left alone");
    Result<std::vector<AclEntry>> dflt = acl_read_default_fd(fd);
    if (!dflt)
        return std::unexpected(dflt.error());
    if (!dflt->empty())
        return fail("acl-overgrant", 0, shown, "has a default ACL; left alone");
    return {};
}

// Whether the access ACL is exactly the runtime directory's.
bool runtime_user_dir_acl_exact(int fd, gid_t gate_gid)
{
    Result<std::vector<AclEntry>> acl = acl_read_fd(fd);
    if (!acl || acl->size() != 5)
        return false;
    int seen = 0;
    for (const AclEntry& e : *acl) {
        const bool ok = (e.tag == AclTag::user_obj && e.perms == 7) ||
                        (e.tag == AclTag::group_obj && e.perms == 0) ||
                        (e.tag == AclTag::group && e.id == gate_gid && e.perms == 1) ||
                        (e.tag == AclTag::mask && e.perms == 1) ||
                        (e.tag == AclTag::other && e.perms == 0);
        seen += ok ? 1 : 0;
    }
    return seen == 5;
}

// RUNTIME/.lock, root's 0600 regular file, locked exclusively. Users cannot
// open it (RUNTIME is root's 0755, the file 0600), so none can hold the
// lock and stall logins; root holds it for microseconds.
Result<UniqueFd> runtime_lock(int runtime_fd, const std::string& runtime_path)
{
    return root_state_file_open(runtime_fd, ".lock", runtime_path + "/.lock", LOCK_EX);
}

void repaired_add(std::string& what, const std::string& item)
{
    what += what.empty() ? item : ", " + item;
}

}  // namespace

Result<UniqueFd> root_state_file_open(int dir_fd, const std::string& name, const std::string& shown,
                                      int lock_op)
{
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
        return fail("path-error", errno, shown, "cannot open");
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || st.st_nlink != 1 || (st.st_mode & 077) != 0)
        return fail("file-unsafe", 0, shown, "not root's 0600 regular file with one link");
    while (lock_op != 0 && ::flock(fd.get(), lock_op) != 0) {
        if (errno != EINTR)
            return fail("path-error", errno, shown, "flock");
    }
    return fd;
}

Result<UniqueFd> root_dir_ensure(const std::string& path)
{
    if (!name_is_clean_abs_path(path))
        return fail("path-invalid", 0, path, "not a clean absolute path");
    UniqueFd cur(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cur.valid())
        return fail("path-error", errno, "/", "cannot open");
    if (Result<void> ok = dir_root_judge(cur.get(), "/"); !ok)
        return std::unexpected(ok.error());
    std::size_t pos = 1;
    while (pos < path.size()) {
        std::size_t end = path.find('/', pos);
        if (end == std::string::npos)
            end = path.size();
        std::string shown = path.substr(0, end);
        Result<UniqueFd> next = dir_component_open(cur.get(), path.substr(pos, end - pos), shown);
        if (!next)
            return std::unexpected(next.error());
        if (Result<void> ok = dir_root_judge(next->get(), shown); !ok)
            return std::unexpected(ok.error());
        cur = std::move(*next);
        pos = end + 1;
    }
    return cur;
}

Result<RuntimeDir> runtime_user_dir_ensure(int runtime_fd, const std::string& runtime_path,
                                           uid_t uid, gid_t gid, gid_t gate_gid)
{
    RuntimeDir out;
    out.path = runtime_user_dir_path(runtime_path, uid);
    // One creator at a time: a second login of the same user must not find
    // root's bare directory between mkdirat and the ACL and "repair" it.
    Result<UniqueFd> lock = runtime_lock(runtime_fd, runtime_path);
    if (!lock)
        return std::unexpected(lock.error());
    const std::string name = std::to_string(uid);
    if (::mkdirat(runtime_fd, name.c_str(), 0700) == 0)
        out.created = true;
    else if (errno != EEXIST)
        return fail("path-error", errno, out.path, "cannot create directory");
    out.fd.reset(::openat(runtime_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!out.fd.valid() || ::fstat(out.fd.get(), &st) != 0)
        return fail("path-error", errno, out.path, "cannot open");
    if (Result<void> ok = runtime_user_dir_judge(out.fd.get(), st, uid, gate_gid, out.path); !ok)
        return std::unexpected(ok.error());
    // RUNTIME is root's and not writable by others, so a root-owned entry in
    // it was made by root (by us, maybe by a run that stopped between mkdir
    // and chown): handing it to the owner is the intended state.
    if (st.st_uid != uid || st.st_gid != gid) {
        if (!out.created)
            repaired_add(out.repaired, "owner " + std::to_string(st.st_uid) + ":" +
                                           std::to_string(st.st_gid));
        if (::fchownat(out.fd.get(), "", uid, gid, AT_EMPTY_PATH) != 0)
            return fail("path-error", errno, out.path, "cannot change owner");
    }
    // With the ACL in place st_mode's group bits are the mask (--x), so
    // the right state reads 0710; the group bits are the ACL's business.
    const bool acl_right = runtime_user_dir_acl_exact(out.fd.get(), gate_gid);
    const mode_t group = st.st_mode & S_IRWXG;
    const bool mode_right = (st.st_mode & 07777 & ~mode_t{S_IRWXG}) == 0700 &&
                            (acl_right || group == 0 || group == S_IXGRP);
    if (!out.created && !mode_right)
        repaired_add(out.repaired, "mode " + mode_text(st.st_mode));
    if (!out.created && !acl_right)
        repaired_add(out.repaired, "acl");
    if (mode_right && acl_right)
        return out;  // every login: nothing to write
    if (Result<void> ok = fd_chmod(out.fd.get(), 0700, out.path); !ok)
        return std::unexpected(ok.error());
    if (Result<void> ok = acl_apply_runtime_dir(out.fd.get(), gate_gid); !ok)
        return std::unexpected(ok.error());
    return out;
}

std::string runtime_user_dir_path(const std::string& runtime_path, uid_t uid)
{
    std::string base = runtime_path;
    while (base.size() > 1 && base.back() == '/')
        base.pop_back();
    return (base == "/" ? "" : base) + "/" + std::to_string(uid);
}

Result<gid_t> gate_gid_of_wrapper(const std::string& attach_path)
{
    const std::string what =
        "tmuxguard-attach at " + attach_path + " is not installed setgid root:GROUP 2755";
    Result<UniqueFd> fd = open_trusted_file(attach_path);
    if (!fd)
        return fail("gate-unknown", 0, {}, what + " (" + fd.error().message() + ")");
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0)
        return fail("gate-unknown", errno, {}, what);
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 07777) != 02755 || st.st_gid == 0)
        return fail("gate-unknown", 0, {},
                    what + " (found uid " + std::to_string(st.st_uid) + " gid " +
                        std::to_string(st.st_gid) + " mode " + mode_text(st.st_mode) + ")");
    return st.st_gid;
}

}  // namespace tg
