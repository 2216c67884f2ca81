// Reaping at logout (reap.hpp).
#include "reap.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <set>
#include <vector>

#include "session.hpp"
#include "tmuxguard/compiled.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/paths.hpp"
#include "tmuxguard/peer.hpp"
#include "tmuxguard/run_as.hpp"
#include "tmuxguard/runtime_dir.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgpam {
namespace {

// A logout must not wait long on a user's server.
constexpr int kTmuxTimeoutMs = 3000;
// Servers looked at per logout, at most.
constexpr int kMaxServers = 64;
constexpr std::size_t kMaxPolicyBytes = 64U << 20U;

// What the compiled policy tells reaping: the tmux to run, the sockets
// that are shares. Missing policy: the configured tmux, no shares.
struct ReapPolicy {
    std::string tmux = tg::paths::default_tmux;
    std::set<std::string> share_sockets;
};

tg::Result<ReapPolicy> reap_policy_read()
{
    ReapPolicy rp;
    tg::Result<std::string> text = tg::read_trusted_file(tg::paths::compiled_policy, kMaxPolicyBytes);
    if (!text && text.error().reason == "path-missing")
        return rp;
    if (!text)
        return std::unexpected(text.error());
    tg::Result<tg::CompiledPolicy> c = tg::compiled_parse(*text);
    if (!c)
        return std::unexpected(c.error());
    if (!c->invalid.empty())
        return tg::fail("policy-invalid", 0, tg::paths::compiled_policy,
                        "the policy has an error, so its shares are unknown");
    rp.tmux = c->tmux;
    for (const tg::CompiledShare& s : c->shares)
        rp.share_sockets.insert(s.socket);
    return rp;
}

// Opens `name` under `dir_fd` as a directory (no symlink) owned by `uid`.
tg::Result<tg::UniqueFd> user_dir_open(int dir_fd, const std::string& name, uid_t uid, int flags,
                                       const std::string& shown)
{
    tg::UniqueFd fd(::openat(dir_fd, name.c_str(), flags | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() && errno == ENOENT)
        return tg::fail("path-missing", ENOENT, shown);
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
        return tg::fail("path-error", errno, shown, "cannot open (a symlink or not a directory?)");
    if (st.st_uid != uid)
        return tg::fail("path-unsafe-dir", 0, shown, "not owned by the user");
    return fd;
}

// Names of the sockets owned by `uid` directly in the directory `dir_fd`.
std::vector<std::string> user_sockets_list(int dir_fd, uid_t uid)
{
    std::vector<std::string> out;
    int rd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rd < 0)
        return out;
    DIR* d = ::fdopendir(rd);
    if (d == nullptr) {
        ::close(rd);
        return out;
    }
    while (const struct dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        struct stat st {};
        if (name == "." || name == ".." ||
            ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISSOCK(st.st_mode) && st.st_uid == uid && out.size() < kMaxServers)
            out.push_back(name);
    }
    ::closedir(d);
    return out;
}

// The user's supplementary groups (NSS, as login gives them).
std::vector<gid_t> user_groups(const struct passwd& pw)
{
    int n = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    while (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0 && n < 65536)
        groups.resize(static_cast<std::size_t>(n));
    groups.resize(static_cast<std::size_t>(n < 0 ? 0 : n));
    return groups;
}

// tmux -N -S SOCKET ARGS... as the user.
tg::Result<tg::RunAsResult> tmux_as_user(const ReapPolicy& rp, const struct passwd& pw,
                                         const std::vector<gid_t>& groups,
                                         const std::string& socket,
                                         const std::vector<std::string>& args)
{
    tg::RunAsPlan p;
    p.drop = true;
    p.uid = pw.pw_uid;
    p.gid = pw.pw_gid;
    p.groups = groups;
    p.program = rp.tmux;
    p.dir = pw.pw_dir != nullptr ? pw.pw_dir : "/";
    p.argv = {rp.tmux, "-N", "-S", socket};
    p.argv.insert(p.argv.end(), args.begin(), args.end());
    const std::string name = pw.pw_name;
    p.env = {"HOME=" + p.dir, "USER=" + name, "LOGNAME=" + name, "PATH=/usr/bin:/bin",
             "LANG=C.UTF-8", "TERM=dumb"};
    p.timeout_ms = kTmuxTimeoutMs;
    p.max_output = 1U << 16U;
    return tg::run_as(p);
}

// Sets SIGCHLD to its default for the object's lifetime (so the host's
// handler, or SIG_IGN, does not reap our tmux child before we do), then
// puts the host's disposition back.
class SigchldDefault {
public:
    SigchldDefault()
    {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        saved_ok_ = ::sigaction(SIGCHLD, &dfl, &saved_) == 0;
    }
    ~SigchldDefault()
    {
        if (saved_ok_)
            ::sigaction(SIGCHLD, &saved_, nullptr);
    }
    SigchldDefault(const SigchldDefault&) = delete;
    SigchldDefault& operator=(const SigchldDefault&) = delete;

private:
    struct sigaction saved_ {};
    bool saved_ok_ = false;
};

}  // namespace

tg::Result<ReapCount> reap_idle_servers(pam_handle_t* pamh, const Options& o,
                                        const struct passwd& pw)
{
    ReapCount count;
    tg::Result<ReapPolicy> rp = reap_policy_read();
    if (!rp)
        return std::unexpected(rp.error());
    if (tg::Result<void> ok = tg::check_trusted_file(rp->tmux); !ok)
        return tg::fail("tmux-unsafe", 0, rp->tmux, ok.error().message());
    tg::Result<tg::UniqueFd> rt = tg::trusted_dir_open(o.runtime_dir);
    if (!rt)
        return std::unexpected(rt.error());
    const std::string uid = std::to_string(pw.pw_uid);
    const std::string user_dir = tg::runtime_user_dir_path(o.runtime_dir, pw.pw_uid);
    tg::Result<tg::UniqueFd> ud = user_dir_open(rt->get(), uid, pw.pw_uid, O_PATH, user_dir);
    const std::string tmux_dir = user_dir + "/tmux-" + uid;
    tg::Result<tg::UniqueFd> td =
        ud ? user_dir_open(ud->get(), "tmux-" + uid, pw.pw_uid, O_PATH, tmux_dir)
           : tg::Result<tg::UniqueFd>(std::unexpected(ud.error()));
    if (!td && td.error().reason == "path-missing")
        return count;  // no private tmux was ever started
    if (!td)
        return std::unexpected(td.error());
    std::optional<std::vector<gid_t>> groups;  // NSS only once a live server is found
    SigchldDefault sigchld;
    for (const std::string& name : user_sockets_list(td->get(), pw.pw_uid)) {
        const std::string path = tmux_dir + "/" + name;
        if (rp->share_sockets.count(path) != 0)
            continue;
        tg::UniqueFd sock(::openat(td->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!sock.valid() || !tg::peer_verify(sock.get(), pw.pw_uid))
            continue;  // stale, gone, or not the user's own server
        ++count.servers;
        if (!groups)
            groups = user_groups(pw);
        const std::string shown = tg::text_safe(path);
        tg::Result<tg::RunAsResult> clients =
            tmux_as_user(*rp, pw, *groups, path, {"list-clients", "-F", "#{client_pid}"});
        if (!clients || clients->status != 0) {
            log_line(pamh, LOG_WARNING,
                     "not reaping " + shown + ": list-clients failed" +
                         (clients ? "" : " (" + clients.error().message() + ")"));
            continue;
        }
        if (!clients->out.empty()) {
            if (o.debug)
                log_line(pamh, LOG_DEBUG, "not reaping " + shown + ": a client is attached");
            continue;
        }
        tg::Result<tg::RunAsResult> kill = tmux_as_user(*rp, pw, *groups, path, {"kill-server"});
        if (kill && kill->status == 0) {
            ++count.reaped;
            log_line(pamh, LOG_NOTICE, "reaped " + shown + ": no client attached at logout");
        } else {
            log_line(pamh, LOG_WARNING, "could not reap " + shown);
        }
    }
    return count;
}

}  // namespace tgpam
