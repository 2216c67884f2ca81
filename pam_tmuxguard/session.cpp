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
#include <algorithm>
#include <charconv>
#include <cstdio>
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
constexpr int kCountWidth = 20;

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

// Removes TMUX_TMPDIR from the PAM environment if it is there (libpam
// logs an error for deleting a name that is not set).
void tmux_tmpdir_remove(pam_handle_t* pamh)
{
    if (pam_getenv(pamh, "TMUX_TMPDIR") != nullptr)
        (void)pam_putenv(pamh, "TMUX_TMPDIR");
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

// The count file RUNTIME/.sessions/UID, opened (created if missing),
// checked and locked with `lock_op`.
tg::Result<tg::UniqueFd> count_file_open(const std::string& runtime_dir, uid_t uid,
                                         std::string& shown, int lock_op)
{
    tg::Result<tg::UniqueFd> rt = tg::trusted_dir_open(runtime_dir);
    if (!rt)
        return std::unexpected(rt.error());
    const std::string dir_shown = runtime_dir + "/" + kCountDir;
    tg::Result<tg::UniqueFd> dir = count_dir_open(rt->get(), dir_shown);
    if (!dir)
        return std::unexpected(dir.error());
    const std::string name = std::to_string(uid);
    shown = dir_shown + "/" + name;
    return tg::root_state_file_open(dir->get(), name, shown, lock_op);
}

// The count in an open, locked count file: 0 for a new (empty) file;
// anything else that is not one fixed-width record is damaged.
tg::Result<long> count_parse(int fd, const std::string& shown)
{
    char buf[kCountWidth + 2] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    if (n < 0)
        return tg::fail("path-error", errno, shown, "read");
    if (n == 0)
        return 0L;
    long count = -1;
    auto parsed = std::from_chars(buf, buf + kCountWidth, count);
    if (n != kCountWidth + 1 || parsed.ec != std::errc() || parsed.ptr != buf + kCountWidth ||
        buf[kCountWidth] != '\n' || count < 0)
        return tg::fail("count-damaged", 0, shown, "not a session count");
    return count;
}

// Adds `delta` to the user's session count under an exclusive lock and
// returns the new count (never below 0). The record has a fixed width and
// is rewritten in place, never truncated first, so a full filesystem cannot
// leave it empty. A damaged count starts again from zero when a session
// opens, and stops reaping when one closes.
tg::Result<long> count_update(const std::string& runtime_dir, uid_t uid, long delta)
{
    std::string shown;
    tg::Result<tg::UniqueFd> f = count_file_open(runtime_dir, uid, shown, LOCK_EX);
    if (!f)
        return std::unexpected(f.error());
    tg::Result<long> count = count_parse(f->get(), shown);
    if (!count && !(count.error().reason == "count-damaged" && delta > 0))
        return count;
    const long now = std::max(0L, (count ? *count : 0L) + delta);
    char rec[kCountWidth + 2];
    std::snprintf(rec, sizeof rec, "%0*ld\n", kCountWidth, now);
    if (::pwrite(f->get(), rec, kCountWidth + 1, 0) != kCountWidth + 1)
        return tg::fail("path-error", errno, shown, "write");
    return now;  // the lock goes with the descriptor
}

// The user's session count, read under a shared lock.
tg::Result<long> count_read(const std::string& runtime_dir, uid_t uid)
{
    std::string shown;
    tg::Result<tg::UniqueFd> f = count_file_open(runtime_dir, uid, shown, LOCK_SH);
    if (!f)
        return std::unexpected(f.error());
    return count_parse(f->get(), shown);
}

// What a PAM handle remembers about its session (pam_set_data): whether
// open_session counted it, so that only a counted session is uncounted,
// by close_session or, failing that, by pam_end.
struct Counted {
    uid_t uid = 0;
    std::string runtime_dir;
    bool counted = false;
};

constexpr const char* kDataName = "pam_tmuxguard_counted";

// pam_end's cleanup: a counted session that never reached close_session
// (a failed stack, an aborted login) is uncounted here, without reaping.
// PAM_DATA_SILENT is a forked child's pam_end: the session is not over.
void counted_cleanup(pam_handle_t* /*pamh*/, void* data, int error_status) noexcept
{
    auto* c = static_cast<Counted*>(data);
    try {
        if (c->counted && (error_status & PAM_DATA_SILENT) == 0)
            (void)count_update(c->runtime_dir, c->uid, -1);
    } catch (...) {  // never into libpam
    }
    delete c;
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

// Counts an opened session once per handle and remembers it on the handle.
void session_count_open(pam_handle_t* pamh, const Options& o, const struct passwd& acct)
{
    const void* existing = nullptr;
    if (pam_get_data(pamh, kDataName, &existing) == PAM_SUCCESS && existing != nullptr &&
        static_cast<const Counted*>(existing)->counted)
        return;  // a second open_session on the same handle
    tg::Result<long> n = count_update(o.runtime_dir, acct.pw_uid, +1);
    if (!n) {
        log_line(pamh, LOG_WARNING, "session not counted for " + who(acct) +
                                        " (no reaping at its logout): " + n.error().message());
        return;
    }
    auto* c = new Counted{acct.pw_uid, o.runtime_dir, true};
    if (pam_set_data(pamh, kDataName, c, counted_cleanup) != PAM_SUCCESS) {
        delete c;
        (void)count_update(o.runtime_dir, acct.pw_uid, -1);
        log_line(pamh, LOG_WARNING, "session not counted for " + who(acct) + ": pam_set_data failed");
        return;
    }
    if (o.debug)
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
    if (!dir) {
        // Whatever TMUX_TMPDIR an earlier module or the user's pam_env put
        // there must not survive a refusal: it is gone, not just unset by us.
        if (o.tmux_tmpdir)
            tmux_tmpdir_remove(pamh);
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
            tmux_tmpdir_remove(pamh);
            log_line(pamh, LOG_ERR, "refused: " + who(acct) + ": cannot set TMUX_TMPDIR: " +
                                        pam_strerror(pamh, rc));
            return refusal_status(o);
        }
    }
    // Only a session that opened is counted: sshd, login, su and sudo never
    // call close_session after a failed open_session.
    if (o.reap_on_logout)
        session_count_open(pamh, o, acct);
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
    const void* data = nullptr;
    auto* c = pam_get_data(pamh, kDataName, &data) == PAM_SUCCESS
                  ? const_cast<Counted*>(static_cast<const Counted*>(data))
                  : nullptr;
    if (c == nullptr || !c->counted || c->uid != acct.pw_uid) {
        if (o.debug)
            log_line(pamh, LOG_DEBUG, "not reaping for " + who(acct) + ": this session was not counted");
        return PAM_SUCCESS;
    }
    tg::Result<long> n = count_update(c->runtime_dir, acct.pw_uid, -1);
    c->counted = false;  // uncounted once, here or never
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
    const std::string runtime_dir = c->runtime_dir;
    const uid_t uid = acct.pw_uid;
    tg::Result<ReapCount> r = reap_idle_servers(pamh, o, acct, [&runtime_dir, uid] {
        tg::Result<long> now = count_read(runtime_dir, uid);
        return now && *now == 0;
    });
    if (!r) {
        log_line(pamh, LOG_ERR, "not reaping for " + who(acct) + ": " + r.error().message());
        return refusal_status(o);
    }
    log_line(pamh, r->reaped > 0 ? LOG_NOTICE : LOG_INFO,
             "last session of " + who(acct) + " ended: reaped " + std::to_string(r->reaped) +
                 " of " + std::to_string(r->servers) + " tmux server(s)");
    return PAM_SUCCESS;
}

}  // namespace tgpam
