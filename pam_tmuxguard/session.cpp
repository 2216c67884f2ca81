// open_session and close_session (session.hpp).
//
// Contract, session_open() and session_close() MUST:
//  1. take the user from PAM_USER and the uid, gid and home from
//     pam_modutil_getpwnam, never from the PAM environment (XDG_* or any
//     variable a user can set);
//  2. create and repair only by descriptor (tmuxguard/runtime_dir.hpp), and
//     leave anything hostile untouched: a refusal is logged with its reason
//     and returned as configured by fail=;
//  3. log every decision (created, repaired, refused, reaped) through
//     pam_syslog with user-controlled text escaped;
//  4. change nothing of the host process: ids, umask, signal dispositions
//     and descriptors are as they were on return.
#include "session.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modutil.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "reap.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/paths.hpp"
#include "tmuxguard/runtime_dir.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgpam {
namespace {

// Where the per-user session counts live: RUNTIME/.sessions/UID, root 0600.
constexpr const char* kCountDir = ".sessions";

// The account of PAM_USER, or an error.
tg::Result<const struct passwd*> account_get(pam_handle_t* pamh)
{
    const void* item = nullptr;
    if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS || item == nullptr)
        return tg::fail("no-user", 0, {}, "PAM_USER is not set");
    const char* user = static_cast<const char*>(item);
    const struct passwd* pw = pam_modutil_getpwnam(pamh, user);
    if (pw == nullptr)
        return tg::fail("unknown-user", 0, tg::text_safe(std::string(user).substr(0, 64)),
                        "no such account");
    return pw;
}

// "user NAME (uid N)", escaped.
std::string who(const struct passwd& pw)
{
    return "user " + tg::text_safe(std::string(pw.pw_name).substr(0, 64)) + " (uid " +
           std::to_string(pw.pw_uid) + ")";
}

// The status for a refusal, as configured.
int refusal_status(const Options& o)
{
    return o.on_failure == OnFailure::deny ? PAM_SESSION_ERR : PAM_IGNORE;
}

// Opens (creating if missing) RUNTIME/.sessions: a root-owned directory
// with no access for group or other.
tg::Result<tg::UniqueFd> count_dir_open(int runtime_fd, const std::string& shown)
{
    bool made = ::mkdirat(runtime_fd, kCountDir, 0700) == 0;
    if (!made && errno != EEXIST)
        return tg::fail("path-error", errno, shown, "cannot create directory");
    tg::UniqueFd fd(::openat(runtime_fd, kCountDir, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
        return tg::fail("path-error", errno, shown, "cannot open (a symlink or not a directory?)");
    if (st.st_uid != 0 || (st.st_mode & 077) != 0)
        return tg::fail("path-unsafe-dir", 0, shown, "not root's with mode 0700");
    return fd;
}

// Adds `delta` to the user's session count under an exclusive lock and
// returns the new count (never below 0).
tg::Result<long> session_count_add(const std::string& runtime_dir, uid_t uid, long delta)
{
    tg::Result<tg::UniqueFd> rt = tg::trusted_dir_open(runtime_dir);
    if (!rt)
        return std::unexpected(rt.error());
    const std::string dir_shown = runtime_dir + "/" + kCountDir;
    tg::Result<tg::UniqueFd> dir = count_dir_open(rt->get(), dir_shown);
    if (!dir)
        return std::unexpected(dir.error());
    const std::string name = std::to_string(uid);
    const std::string shown = dir_shown + "/" + name;
    tg::UniqueFd f(::openat(dir->get(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    struct stat st {};
    if (!f.valid() || ::fstat(f.get(), &st) != 0)
        return tg::fail("path-error", errno, shown, "cannot open");
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || st.st_nlink != 1)
        return tg::fail("file-unsafe", 0, shown, "not a root-owned regular file");
    while (::flock(f.get(), LOCK_EX) != 0) {
        if (errno != EINTR)
            return tg::fail("path-error", errno, shown, "flock");
    }
    char buf[32] = {};
    ssize_t n = ::pread(f.get(), buf, sizeof buf - 1, 0);
    if (n < 0)
        return tg::fail("path-error", errno, shown, "read");
    long count = 0;
    auto parsed = std::from_chars(buf, buf + n, count);
    if (parsed.ec != std::errc() || count < 0)
        count = 0;  // an empty or damaged count starts again from zero
    count = count + delta < 0 ? 0 : count + delta;
    const std::string text = std::to_string(count) + "\n";
    if (::ftruncate(f.get(), 0) != 0 ||
        ::pwrite(f.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
        return tg::fail("path-error", errno, shown, "write");
    return count;  // the lock goes with the descriptor
}

// The runtime directory work of open_session; the refusal on error.
tg::Result<tg::RuntimeDir> runtime_dir_ready(const Options& o, const struct passwd& pw)
{
    tg::Result<gid_t> gate = tg::gate_gid_of_wrapper(tg::paths::attach_path);
    if (!gate)
        return std::unexpected(gate.error());
    tg::Result<tg::UniqueFd> rt = tg::root_dir_ensure(o.runtime_dir);
    if (!rt)
        return std::unexpected(rt.error());
    return tg::runtime_user_dir_ensure(rt->get(), o.runtime_dir, pw.pw_uid, pw.pw_gid, *gate);
}

// +1 on the user's session count, logged.
void session_count_note(pam_handle_t* pamh, const Options& o, const struct passwd& acct)
{
    tg::Result<long> n = session_count_add(o.runtime_dir, acct.pw_uid, +1);
    if (!n)
        log_line(pamh, LOG_WARNING, "session not counted for " + who(acct) +
                                        " (no reaping at its logout): " + n.error().message());
    else if (o.debug)
        log_line(pamh, LOG_DEBUG, "sessions of " + who(acct) + ": " + std::to_string(*n));
}

}  // namespace

void log_line(pam_handle_t* pamh, int priority, const std::string& text) noexcept
{
    pam_syslog(pamh, priority, "%s", text.c_str());
}

int session_open(pam_handle_t* pamh, const Options& o)
{
    tg::Result<const struct passwd*> pw = account_get(pamh);
    if (!pw) {
        log_line(pamh, LOG_ERR, "refused: " + pw.error().message());
        return o.on_failure == OnFailure::deny ? PAM_USER_UNKNOWN : PAM_IGNORE;
    }
    const struct passwd& acct = **pw;
    tg::Result<tg::RuntimeDir> dir = runtime_dir_ready(o, acct);
    // Counted even when refused below: its close_session will come all the
    // same, and must not end the count of the user's other sessions.
    if (o.reap_on_logout)
        session_count_note(pamh, o, acct);
    if (!dir) {
        log_line(pamh, LOG_ERR,
                 "refused: " + who(acct) + ": " + dir.error().message() +
                     (o.tmux_tmpdir ? "; TMUX_TMPDIR not set" : ""));
        return refusal_status(o);
    }
    if (dir->created)
        log_line(pamh, LOG_NOTICE, "created " + dir->path + " for " + who(acct));
    else if (!dir->repaired.empty())
        log_line(pamh, LOG_WARNING,
                 "repaired " + dir->path + " for " + who(acct) + ": was " + dir->repaired);
    else if (o.debug)
        log_line(pamh, LOG_DEBUG, "kept " + dir->path + " for " + who(acct) + ": already right");
    if (o.tmux_tmpdir) {
        const std::string env = "TMUX_TMPDIR=" + dir->path;
        if (int rc = pam_putenv(pamh, env.c_str()); rc != PAM_SUCCESS) {
            log_line(pamh, LOG_ERR, "refused: " + who(acct) + ": cannot set TMUX_TMPDIR: " +
                                        pam_strerror(pamh, rc));
            return refusal_status(o);
        }
    }
    return PAM_SUCCESS;
}

int session_close(pam_handle_t* pamh, const Options& o)
{
    if (!o.reap_on_logout)
        return PAM_SUCCESS;
    tg::Result<const struct passwd*> pw = account_get(pamh);
    if (!pw) {
        log_line(pamh, LOG_ERR, "not reaping: " + pw.error().message());
        return o.on_failure == OnFailure::deny ? PAM_USER_UNKNOWN : PAM_IGNORE;
    }
    const struct passwd& acct = **pw;
    tg::Result<long> n = session_count_add(o.runtime_dir, acct.pw_uid, -1);
    if (!n) {
        log_line(pamh, LOG_ERR, "not reaping for " + who(acct) + ": " + n.error().message());
        return refusal_status(o);
    }
    if (*n > 0) {
        if (o.debug)
            log_line(pamh, LOG_DEBUG, "not reaping for " + who(acct) + ": " + std::to_string(*n) +
                                          " session(s) left");
        return PAM_SUCCESS;
    }
    tg::Result<ReapCount> r = reap_idle_servers(pamh, o, acct);
    if (!r) {
        log_line(pamh, LOG_ERR, "not reaping for " + who(acct) + ": " + r.error().message());
        return refusal_status(o);
    }
    if (o.debug || r->reaped > 0)
        log_line(pamh, r->reaped > 0 ? LOG_NOTICE : LOG_DEBUG,
                 "last session of " + who(acct) + " ended: reaped " + std::to_string(r->reaped) +
                     " of " + std::to_string(r->servers) + " tmux server(s)");
    return PAM_SUCCESS;
}

}  // namespace tgpam
