#include "grant_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <thread>

#include "cli.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/runtime_dir.hpp"

namespace tgcli {

namespace {

// The first line of every file grant writes: how a file is told ours.
constexpr std::string_view kMarker =
    "# tmuxguard grant: written by 'tmuxguard grant', removed by 'tmuxguard revoke'; do not edit";
constexpr std::string_view kPrefix = "grant-";
constexpr std::string_view kSuffix = ".conf";
constexpr std::chrono::milliseconds kLockPoll{100};
// DST moves local time by at most an hour (two, historically): 3 h of
// minute steps bounds the search in grant_until_compute().
constexpr int kMaxUntilSteps = 3 * 60;

// "YYYY-MM-DDTHH:MM:SS+ZZZZ" in local time.
std::string time_local_seconds(std::time_t t)
{
    struct tm tm {};
    char buf[48];
    if (::localtime_r(&t, &tm) == nullptr ||
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
        return "?";
    return buf;
}

// Splits on single blanks; the grant line never holds anything else.
std::vector<std::string> words_split(const std::string& line)
{
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= line.size()) {
        std::size_t end = line.find(' ', pos);
        if (end == std::string::npos)
            end = line.size();
        out.push_back(line.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

// The lines of `text`, which must end in '\n'; nullopt otherwise.
std::optional<std::vector<std::string>> lines_split(const std::string& text)
{
    if (text.empty() || text.back() != '\n')
        return std::nullopt;
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        out.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

// fsync of the directory, so a rename or unlink survives a crash.
tg::Result<void> dir_sync(const GrantDir& d)
{
    tg::UniqueFd rd(::openat(d.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rd.valid() || ::fsync(rd.get()) != 0)
        return tg::fail("path-error", errno, d.path, "fsync directory");
    return {};
}

// Reads at most kMaxGrantFile bytes of an open file; nullopt if larger.
tg::Result<std::optional<std::string>> fd_read_bounded(int fd, const std::string& shown)
{
    std::string text;
    char buf[1024];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tg::fail("path-error", errno, shown, "read");
        if (n == 0)
            return std::optional<std::string>(std::move(text));
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > kMaxGrantFile)
            return std::optional<std::string>();
    }
}

// The share and user a grant file name stands for (clause 2), if it is one.
std::optional<std::pair<std::string, std::string>> grant_name_parse(std::string_view name)
{
    if (name.size() <= kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) ||
        !name.ends_with(kSuffix))
        return std::nullopt;
    std::string_view mid = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    std::size_t plus = mid.find('+');
    if (plus == std::string_view::npos)
        return std::nullopt;
    std::string share(mid.substr(0, plus));
    std::string user(mid.substr(plus + 1));
    if (!tg::name_is_valid_share(share) || !tg::name_is_valid_account(user))
        return std::nullopt;
    return std::make_pair(share, user);
}

// Names of the directory's entries that look like grant files, bounded by
// what readdir returns (the directory is root's).
tg::Result<std::vector<std::string>> grant_names_list(const GrantDir& d)
{
    int fd = ::openat(d.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* dir = fd >= 0 ? ::fdopendir(fd) : nullptr;
    if (dir == nullptr) {
        int saved = errno;
        if (fd >= 0)
            ::close(fd);
        return tg::fail("path-error", saved, d.path, "cannot list directory");
    }
    std::vector<std::string> names;
    errno = 0;
    while (const struct dirent* e = ::readdir(dir)) {
        if (grant_name_parse(e->d_name))
            names.emplace_back(e->d_name);
        errno = 0;
    }
    int saved = errno;
    ::closedir(dir);
    if (saved != 0)
        return tg::fail("path-error", saved, d.path, "cannot list directory");
    std::sort(names.begin(), names.end());
    return names;
}

// "mode 0664" etc.: why a file in policy.d is not a file grant could have written.
std::string file_not_ours_why(const struct stat& st)
{
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    if (st.st_uid != 0)
        return "owned by uid " + std::to_string(st.st_uid);
    if (st.st_nlink != 1)
        return "has " + std::to_string(st.st_nlink) + " links";
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return "writable by group or other";
    return {};
}

}  // namespace

// root_dir_ensure, then flock(LOCK_EX) on the directory, polled (bounded).
tg::Result<GrantDir> grant_dir_open(const std::string& path)
{
    tg::Result<tg::UniqueFd> fd = tg::root_dir_ensure(path);
    if (!fd)
        return std::unexpected(fd.error());
    GrantDir d;
    d.path = path;
    d.fd = std::move(*fd);
    d.lock.reset(::openat(d.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d.lock.valid())
        return tg::fail("path-error", errno, path, "cannot open directory");
    const auto deadline = std::chrono::steady_clock::now() + kGrantLockWait;
    while (::flock(d.lock.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return tg::fail("path-error", errno, path, "flock");
        if (std::chrono::steady_clock::now() >= deadline)
            return tg::fail("lock-busy", 0, path,
                            "another grant or revoke held the lock for " +
                                duration_format(kGrantLockWait));
        std::this_thread::sleep_for(kLockPoll);
    }
    return d;
}

std::string grant_file_name(const std::string& share, const std::string& user)
{
    return std::string(kPrefix) + share + "+" + user + std::string(kSuffix);
}

// Minute floor of now+asked, checked by parsing it back as the policy will.
tg::Result<GrantRule> grant_until_compute(std::time_t now, std::chrono::seconds asked)
{
    const std::int64_t target = static_cast<std::int64_t>(now) + asked.count();
    std::time_t t = static_cast<std::time_t>(target);
    for (int step = 0; step < kMaxUntilSteps; ++step, t -= 60) {
        GrantRule g;
        g.until = time_local_format(t);
        if (!tg::policy_parse_local_time(g.until, g.until_epoch) || g.until_epoch > target)
            continue;
        if (g.until_epoch <= static_cast<std::int64_t>(now))
            break;
        return g;
    }
    return tg::fail("internal-error", 0, {},
                    "no local time between now and " + duration_format(asked) + " from now");
}

std::string grant_text_format(const GrantRule& g, uid_t by, std::time_t at,
                              std::chrono::seconds asked)
{
    return std::string(kMarker) + "\n# granted by uid " + std::to_string(by) + " at " +
           time_local_seconds(at) + " for " + duration_format(asked) + "\npermit " +
           std::string(tg::mode_name(g.mode)) + " " + g.user + " on " + g.share + " until " +
           g.until + "\n";
}

// Marker, "# granted by uid ...", "permit MODE USER on SHARE until T".
std::optional<GrantRule> grant_text_parse(const std::string& text, const std::string& share,
                                          const std::string& user)
{
    std::optional<std::vector<std::string>> lines = lines_split(text);
    if (!lines || lines->size() != kGrantRuleLine || (*lines)[0] != kMarker ||
        !(*lines)[1].starts_with("# granted by uid "))
        return std::nullopt;
    std::vector<std::string> w = words_split((*lines)[2]);
    if (w.size() != 7 || w[0] != "permit" || (w[1] != "view" && w[1] != "interact") ||
        w[2] != user || w[3] != "on" || w[4] != share || w[5] != "until")
        return std::nullopt;
    GrantRule g;
    g.mode = w[1] == "view" ? tg::Mode::view : tg::Mode::interact;
    g.user = user;
    g.share = share;
    g.until = w[6];
    if (!tg::policy_parse_local_time(g.until, g.until_epoch))
        return std::nullopt;
    return g;
}

// openat(O_RDONLY|O_NOFOLLOW|O_NONBLOCK), fstat, bounded read, marker.
tg::Result<GrantFile> grant_file_read(const GrantDir& d, const std::string& name,
                                      const std::string& share, const std::string& user)
{
    const std::string shown = d.path + "/" + name;
    GrantFile f;
    tg::UniqueFd fd(::openat(d.fd.get(), name.c_str(),
                             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid() && errno == ENOENT)
        return f;
    f.state = GrantFileState::foreign;
    if (!fd.valid() && errno == ELOOP) {
        f.why = "a symlink";
        return f;
    }
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
        return tg::fail("path-error", errno, shown, "cannot open");
    f.why = file_not_ours_why(st);
    if (!f.why.empty())
        return f;
    tg::Result<std::optional<std::string>> text = fd_read_bounded(fd.get(), shown);
    if (!text)
        return std::unexpected(text.error());
    if (!*text) {
        f.why = "larger than " + std::to_string(kMaxGrantFile) + " bytes";
        return f;
    }
    if (!(*text)->starts_with(std::string(kMarker) + "\n")) {
        f.why = "its first line is not the marker of 'tmuxguard grant'";
        return f;
    }
    f.state = GrantFileState::ours;
    f.text = std::move(**text);
    f.rule = grant_text_parse(f.text, share, user);
    return f;
}

// mkostemp(".grant.XXXXXX") in policy.d, write, fsync, 0644, rename, fsync dir.
tg::Result<void> grant_file_write(const GrantDir& d, const std::string& name, const std::string& text)
{
    const std::string shown = d.path + "/" + name;
    std::string tmpl = tg::fd_proc_path(d.fd.get()) + "/.grant.XXXXXX";
    tg::UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd.valid())
        return tg::fail("path-error", errno, shown, "cannot create temporary file");
    const std::string tmp = path_basename(tmpl);
    tg::Result<void> ok = fd_write_all(fd.get(), text, shown);
    if (ok && (::fsync(fd.get()) != 0 || ::fchmod(fd.get(), 0644) != 0))
        ok = tg::fail("path-error", errno, shown, "fsync/fchmod");
    if (ok && ::renameat(d.fd.get(), tmp.c_str(), d.fd.get(), name.c_str()) != 0)
        ok = tg::fail("path-error", errno, shown, "rename");
    if (!ok) {
        ::unlinkat(d.fd.get(), tmp.c_str(), 0);
        return ok;
    }
    return dir_sync(d);
}

// unlinkat + fsync of the directory.
tg::Result<void> grant_file_remove(const GrantDir& d, const std::string& name)
{
    if (::unlinkat(d.fd.get(), name.c_str(), 0) != 0 && errno != ENOENT)
        return tg::fail("path-error", errno, d.path + "/" + name, "cannot remove");
    return dir_sync(d);
}

// Every grant-*.conf of ours, exactly in our format, whose until has passed.
std::vector<GrantPruned> grant_files_prune(const GrantDir& d, std::time_t now,
                                           const std::string& keep,
                                           std::vector<std::string>& errors)
{
    std::vector<GrantPruned> pruned;
    tg::Result<std::vector<std::string>> names = grant_names_list(d);
    if (!names) {
        errors.push_back(names.error().message());
        return pruned;
    }
    for (const std::string& name : *names) {
        std::optional<std::pair<std::string, std::string>> pair = grant_name_parse(name);
        if (name == keep || !pair)
            continue;
        tg::Result<GrantFile> f = grant_file_read(d, name, pair->first, pair->second);
        if (!f) {
            errors.push_back(f.error().message());
            continue;
        }
        if (f->state != GrantFileState::ours || !f->rule ||
            f->rule->until_epoch > static_cast<std::int64_t>(now))
            continue;
        if (tg::Result<void> rm = grant_file_remove(d, name); !rm) {
            errors.push_back(rm.error().message());
            continue;
        }
        pruned.push_back(GrantPruned{d.path + "/" + name, *f->rule});
    }
    return pruned;
}

}  // namespace tgcli
