// Contract for the directory helpers here; they MUST:
//  1. walk and create by descriptor only (openat/mkdirat relative to the
//     verified parent, O_PATH|O_NOFOLLOW|O_CLOEXEC), never by whole path;
//  2. judge each object by fstat of the descriptor they got;
//  3. never follow, chown or chmod a symlink, a non-directory, or a
//     directory owned by someone other than root or the intended owner;
//  4. change owner and mode only through that descriptor (fchownat with
//     AT_EMPTY_PATH, chmod of /proc/self/fd/N), so the inode that was
//     checked is the inode that is changed.
#include "runtime_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "cli.hpp"
#include "tmuxguard/acl.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"

namespace tgcli {

namespace {

// Opens `name` under `dir_fd`, creating it as a 0755 directory if missing.
tg::Result<tg::UniqueFd> dir_component_open(int dir_fd, const std::string& name,
                                            const std::string& shown)
{
    tg::UniqueFd fd(::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid() && errno == ENOENT) {
        if (::mkdirat(dir_fd, name.c_str(), 0755) != 0 && errno != EEXIST)
            return tg::fail("path-error", errno, shown, "cannot create directory");
        fd.reset(::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!fd.valid())
        return tg::fail("path-error", errno, shown, "cannot open");
    return fd;
}

// A directory owned by root and not writable by group or other.
tg::Result<void> dir_root_judge(int fd, const std::string& shown)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return tg::fail("path-error", errno, shown, "cannot stat");
    if (S_ISLNK(st.st_mode))
        return tg::fail("path-symlink", 0, shown, "is a symbolic link");
    if (!S_ISDIR(st.st_mode))
        return tg::fail("path-unsafe-dir", 0, shown, "not a directory");
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return tg::fail("path-unsafe-dir", 0, shown,
                        "not owned by root or writable by group or other");
    return {};
}

// Gives a root-owned RUNTIME/UID to its owner and sets mode and ACL.
tg::Result<void> runtime_owner_dir_fix(int fd, const struct stat& st, uid_t uid, gid_t gid,
                                       gid_t gate_gid, const std::string& shown)
{
    // RUNTIME is root-owned and not writable by others, so a root-owned
    // entry in it was made by root (by us, maybe by a run that stopped
    // between mkdir and chown): handing it to the owner is the intended state.
    if (st.st_uid != uid && ::fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0)
        return tg::fail("path-error", errno, shown, "cannot change owner");
    if (::chmod(tg::fd_proc_path(fd).c_str(), 0700) != 0)
        return tg::fail("path-error", errno, shown, "cannot change mode");
    return tg::acl_apply_runtime_dir(fd, gate_gid);
}

}  // namespace

// mkdir -p by descriptor, every component root-owned and not group/other writable.
tg::Result<tg::UniqueFd> dir_ensure_root(const std::string& path)
{
    if (!tg::name_is_clean_abs_path(path))
        return tg::fail("path-invalid", 0, path, "not a clean absolute path");
    tg::UniqueFd cur(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cur.valid())
        return tg::fail("path-error", errno, "/", "cannot open");
    if (tg::Result<void> ok = dir_root_judge(cur.get(), "/"); !ok)
        return std::unexpected(ok.error());
    std::size_t pos = 1;
    while (pos < path.size()) {
        std::size_t end = path.find('/', pos);
        if (end == std::string::npos)
            end = path.size();
        std::string shown = path.substr(0, end);
        tg::Result<tg::UniqueFd> next = dir_component_open(cur.get(), path.substr(pos, end - pos), shown);
        if (!next)
            return std::unexpected(next.error());
        if (tg::Result<void> ok = dir_root_judge(next->get(), shown); !ok)
            return std::unexpected(ok.error());
        cur = std::move(*next);
        pos = end + 1;
    }
    return cur;
}

// RUNTIME/UID: mkdirat 0700, open O_PATH|O_NOFOLLOW, judge, fix, ACL.
tg::Result<tg::UniqueFd> runtime_owner_dir_ensure(int runtime_fd, const std::string& runtime_path,
                                                  uid_t uid, gid_t gid, gid_t gate_gid)
{
    std::string name = std::to_string(uid);
    std::string shown = runtime_path + "/" + name;
    if (::mkdirat(runtime_fd, name.c_str(), 0700) != 0 && errno != EEXIST)
        return tg::fail("path-error", errno, shown, "cannot create directory");
    tg::UniqueFd fd(::openat(runtime_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
        return tg::fail("path-error", errno, shown, "cannot open");
    if (S_ISLNK(st.st_mode))
        return tg::fail("path-symlink", 0, shown, "is a symbolic link; left alone");
    if (!S_ISDIR(st.st_mode))
        return tg::fail("path-unsafe-dir", 0, shown, "not a directory; left alone");
    if (st.st_uid != uid && st.st_uid != 0)
        return tg::fail("path-unsafe-dir", 0, shown,
                        "owned by uid " + std::to_string(st.st_uid) + ", not by uid " + name +
                            "; left alone");
    if (tg::Result<void> ok = runtime_owner_dir_fix(fd.get(), st, uid, gid, gate_gid, shown); !ok)
        return std::unexpected(ok.error());
    return fd;
}

// RUNTIME/UID
std::string runtime_owner_dir_path(const tg::CompiledPolicy& c, uid_t uid)
{
    std::string base = c.runtime_dir;
    while (base.size() > 1 && base.back() == '/')
        base.pop_back();
    return (base == "/" ? "" : base) + "/" + std::to_string(uid);
}

// dirname(socket) == RUNTIME/OWNER-UID
bool share_socket_in_runtime(const tg::CompiledPolicy& c, const tg::CompiledShare& s)
{
    return path_dirname(s.socket) == runtime_owner_dir_path(c, s.owner_uid);
}

}  // namespace tgcli
