// audit_walk (audit_walk.hpp).
#include "audit_walk.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "audit.hpp"

namespace tgcli::audit {
namespace {

// The reason and phrase for a failed openat or fstat.
std::unexpected<tg::Error> walk_fail(int err, const std::string& path)
{
    if (err == ENOENT)
        return tg::fail("path-missing", err, path, "no such file or directory");
    if (err == EACCES || err == EPERM)
        return tg::fail("path-denied", err, path, "permission denied");
    return tg::fail("path-error", err, path, "cannot open");
}

// "/a/b/c" -> {"a","b","c"}; empty when a component is empty, "." or "..".
bool path_split(const std::string& path, std::vector<std::string>& out)
{
    std::size_t pos = 1;
    while (pos < path.size()) {
        std::size_t end = path.find('/', pos);
        if (end == std::string::npos)
            end = path.size();
        std::string part = path.substr(pos, end - pos);
        if (part.empty() || part == "." || part == "..")
            return false;
        out.push_back(std::move(part));
        pos = end + 1;
    }
    return path.size() == 1 || path.back() != '/';
}

}  // namespace

// Contract in audit_walk.hpp.
tg::Result<tg::UniqueFd> audit_walk(const std::string& path, const WalkVisit* visit, struct stat& st)
{
    std::vector<std::string> parts;
    if (path.empty() || path[0] != '/' || !path_split(path, parts))
        return tg::fail("path-invalid", 0, path, "not an absolute, normalised path");
    if (parts.size() > kMaxPathComponents)
        return tg::fail("path-too-deep", 0, path, "too many components");
    tg::UniqueFd cur(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cur.valid() || ::fstat(cur.get(), &st) != 0)
        return walk_fail(errno, "/");
    for (const std::string& part : parts) {
        if (!S_ISDIR(st.st_mode))
            return tg::fail("path-not-dir", ENOTDIR, path, "a component is not a directory");
        if (visit != nullptr)
            (*visit)(cur.get(), st);
        tg::UniqueFd next(::openat(cur.get(), part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!next.valid() || ::fstat(next.get(), &st) != 0)
            return walk_fail(errno, path);
        if (S_ISLNK(st.st_mode))
            return tg::fail("path-symlink", 0, path, "a symlink on the way (not followed)");
        cur = std::move(next);
    }
    return cur;
}

}  // namespace tgcli::audit
