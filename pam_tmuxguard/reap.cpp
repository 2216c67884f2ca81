// Reaping at logout (reap.hpp).
#include "reap.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <time.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
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

// A logout must not wait long on a user's servers: each tmux command gets
// at most kTmuxTimeoutMs, the whole reap kBudgetMs.
constexpr int kTmuxTimeoutMs = 3000;
constexpr int kBudgetMs = 5000;
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

// The user's supplementary groups (NSS, as login gives them); a few
// bounded tries, then an error (no reaping) rather than a guess.
tg::Result<std::vector<gid_t>> user_groups(const struct passwd& pw)
{
    int n = 64;
    for (int attempt = 0; attempt < 4; ++attempt) {
        std::vector<gid_t> groups(static_cast<std::size_t>(n));
        int got = n;
        if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &got) >= 0) {
            groups.resize(static_cast<std::size_t>(got));
            return groups;
        }
        if (got <= n || got > 65536)
            break;  // failed without asking for more room: not a size problem
        n = got;
    }
    return tg::fail("groups-unknown", 0, tg::text_safe(pw.pw_name), "getgrouplist failed");
}

// tmux -N -S SOCKET ARGS... as the user.
tg::Result<tg::RunAsResult> tmux_as_user(const ReapPolicy& rp, const struct passwd& pw,
                                         const std::vector<gid_t>& groups,
                                         const std::string& socket,
                                         const std::vector<std::string>& args, int timeout_ms)
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
    p.timeout_ms = timeout_ms;
    p.max_output = 1U << 16U;
    return tg::run_as(p);
}

// Milliseconds left of the whole reap's budget.
int budget_left_ms(const struct timespec& start)
{
    struct timespec now {};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const long long used = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
    return used >= kBudgetMs ? 0 : static_cast<int>(kBudgetMs - used);
}

}  // namespace

tg::Result<ReapCount> reap_idle_servers(pam_handle_t* pamh, const Options& o,
                                        const struct passwd& pw,
                                        const std::function<bool()>& still_last)
{
    ReapCount count;
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
    struct timespec start {};
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    int unchecked = 0;
    std::string first_problem;
    const std::vector<std::string> names = user_sockets_list(td->get(), pw.pw_uid);
    // The compiled policy (which sockets are shares) only when there is a
    // socket to judge: most logouts have none, and a large policy costs
    // milliseconds to parse.
    if (names.empty())
        return count;
    tg::Result<ReapPolicy> rp = reap_policy_read();
    if (!rp)
        return std::unexpected(rp.error());
    if (tg::Result<void> ok = tg::check_trusted_file(rp->tmux); !ok)
        return tg::fail("tmux-unsafe", 0, rp->tmux, ok.error().message());
    for (const std::string& name : names) {
        const int left = budget_left_ms(start);
        if (left < 100) {
            ++unchecked;
            if (first_problem.empty())
                first_problem = "out of time";
            continue;
        }
        const std::string path = tmux_dir + "/" + name;
        if (rp->share_sockets.count(path) != 0)
            continue;
        tg::UniqueFd sock(::openat(td->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!sock.valid() || !tg::peer_verify(sock.get(), pw.pw_uid))
            continue;  // stale, gone, or not the user's own server
        ++count.servers;
        if (!groups) {
            tg::Result<std::vector<gid_t>> g = user_groups(pw);
            if (!g)
                return std::unexpected(g.error());
            groups = std::move(*g);
        }
        const std::string shown = tg::text_safe(path);
        tg::Result<tg::RunAsResult> clients =
            tmux_as_user(*rp, pw, *groups, path, {"list-clients", "-F", "#{client_pid}"},
                         std::min(left, kTmuxTimeoutMs));
        if (!clients || clients->status != 0) {
            ++unchecked;
            if (first_problem.empty())
                first_problem = shown + ": list-clients " +
                                (clients ? "exit " + std::to_string(clients->status)
                                         : clients.error().reason);
            continue;
        }
        if (!clients->out.empty()) {
            if (o.debug)
                log_line(pamh, LOG_DEBUG, "not reaping " + shown + ": a client is attached");
            continue;
        }
        // A login that began while we worked wants its servers.
        if (!still_last()) {
            log_line(pamh, LOG_INFO, "stopped reaping: a new session of the user began");
            break;
        }
        tg::Result<tg::RunAsResult> kill =
            tmux_as_user(*rp, pw, *groups, path, {"kill-server"},
                         std::clamp(budget_left_ms(start), 100, kTmuxTimeoutMs));
        if (kill && kill->status == 0) {
            ++count.reaped;
            log_line(pamh, LOG_NOTICE, "reaped " + shown + ": no client attached at logout");
        } else {
            ++unchecked;
            if (first_problem.empty())
                first_problem = shown + ": kill-server failed";
        }
    }
    if (unchecked > 0)
        log_line(pamh, LOG_WARNING,
                 "left " + std::to_string(unchecked) + " server(s) of the user alone (first: " +
                     first_problem + ")");
    return count;
}

}  // namespace tgpam
