// audit, stage 4: each live tmux server's version and access list, asked
// as the server's own uid (audit.hpp).
//
// Contract for query_servers():
//  1. a tmux client is only ever run as the uid the listener runs as, and
//     only for a socket inspect() found queryable (audit_inspect.cpp clause
//     5: SO_PEERCRED of its own connection, the file that uid's, no
//     directory on the path anyone else may change), through
//     tmux_query_as(): ids dropped for good, no descriptors, no terminal,
//     bounded (tmux_exec.hpp). Root never runs a client against anyone
//     else's server; an unprivileged caller asks only its own servers and
//     reports how many it could not;
//  2. one client per server: `display-message -p '#{version}' ; server-access
//     -l`; only when the server does not know server-access (tmux < 3.3) a
//     second one for the version alone;
//  3. at most kQueryParallel clients at a time, kQueryTimeoutMs each, and no
//     new one after kQueryBudgetMs; what was not asked is reported;
//  4. the answers are data: parsed strictly, printed only through the
//     control-byte filter; the owner's and root's own entries are left out
//     of the list (as sync does). A server can lie about itself (it is its
//     owner's); audit says what it answered.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "audit.hpp"
#include "cli.hpp"
#include "tmux_exec.hpp"

namespace tgcli::audit {
namespace {

using Clock = std::chrono::steady_clock;

// "NAME (R)" / "NAME (W)"; nullopt when the line is anything else.
std::optional<AccessEntry> access_line_parse(std::string_view line)
{
    if (line.size() < 5 || (!line.ends_with(" (R)") && !line.ends_with(" (W)")))
        return std::nullopt;
    return AccessEntry{std::string(line.substr(0, line.size() - 4)),
                       line[line.size() - 2] == 'R' ? tg::Mode::view : tg::Mode::interact};
}

// The first line of tmux's output, "" when none.
std::string first_line(const std::string& out)
{
    return out.substr(0, out.find('\n'));
}

// Why a tmux run failed, in one line.
std::string tmux_failure(const TmuxResult& r)
{
    std::string why = first_line(r.err.empty() ? r.out : r.err);
    return "tmux exited with status " + std::to_string(r.status) + (why.empty() ? "" : ": " + why);
}

// Clause 2's second client: the version of a server without server-access.
void query_version_only(Socket& s, const std::string& tmux, const Account& owner)
{
    s.query = QueryState::no_access_list;
    tg::Result<TmuxResult> r =
        tmux_query_as(tmux, s.path, owner, {"display-message", "-p", "#{version}"}, kQueryTimeoutMs);
    if (r && r->status == 0)
        s.version = first_line(r->out);
}

// Clause 2: one server, one client (two for tmux < 3.3).
void query_one(Socket& s, const std::string& tmux, const Account& owner)
{
    tg::Result<TmuxResult> r = tmux_query_as(
        tmux, s.path, owner, {"display-message", "-p", "#{version}", ";", "server-access", "-l"},
        kQueryTimeoutMs);
    if (!r) {
        s.query = QueryState::failed;
        s.query_error = r.error().message();
        return;
    }
    if (r->status != 0) {
        if (r->err.find("unknown command: server-access") != std::string::npos)
            return query_version_only(s, tmux, owner);
        s.query = QueryState::failed;
        s.query_error = tmux_failure(*r);
        return;
    }
    std::vector<std::string> lines;
    for (std::size_t pos = 0; pos < r->out.size();) {
        std::size_t end = r->out.find('\n', pos);
        if (end == std::string::npos)
            end = r->out.size();
        lines.push_back(r->out.substr(pos, end - pos));
        pos = end + 1;
    }
    s.version = lines.empty() ? "" : lines[0];
    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::optional<AccessEntry> e = access_line_parse(lines[i]);
        if (!e) {
            s.query = QueryState::failed;
            s.query_error = "unexpected server-access output: " + lines[i];
            s.access_list.clear();
            return;
        }
        s.access_list.push_back(std::move(*e));
    }
    s.query = QueryState::answered;
}

// Why inspect() found a server not safe to ask (clause 1).
std::string query_refusal(const Socket& s)
{
    if (!s.peer_cred)
        return "its uid is not known from its own connection (a busy or vanished listener)";
    if (s.facts.uid != *s.server_uid)
        return "the socket file is " + account_name(s.facts.uid) + "'s, the server " +
               account_name(*s.server_uid) + "'s";
    return s.open_dir + " can be changed by others (dir-writable)";
}

// The servers to ask (clause 1); counts those the caller may not ask and
// those that are not safe to ask.
std::vector<std::size_t> query_targets(const std::vector<Socket>& sockets, std::size_t& others,
                                       std::vector<std::string>& unsafe)
{
    std::vector<std::size_t> out;
    const bool root = caller_is_root();
    for (std::size_t i = 0; i < sockets.size(); ++i) {
        const Socket& s = sockets[i];
        if (s.state != Liveness::live || !s.tmux)
            continue;
        if (!s.server_uid || (!root && *s.server_uid != ::getuid()))
            ++others;
        else if (!s.queryable)
            unsafe.push_back(s.path + ": " + query_refusal(s));
        else
            out.push_back(i);
    }
    return out;
}

// The owner account of every target, looked up before any thread starts.
std::map<uid_t, std::optional<Account>> owners_resolve(const std::vector<Socket>& sockets,
                                                       const std::vector<std::size_t>& targets)
{
    std::map<uid_t, std::optional<Account>> out;
    for (std::size_t i : targets) {
        const uid_t uid = *sockets[i].server_uid;
        if (!out.contains(uid))
            out.emplace(uid, nss_account_by_uid(uid));
    }
    return out;
}

// tmux lists the server's own uid (W) on its access list; like sync, audit
// leaves the owner and root out. Names are resolved after the queries, in
// this thread (NSS once per name).
void access_lists_prune(std::vector<Socket>& sockets)
{
    std::map<std::string, std::optional<uid_t>> uid_of;
    for (Socket& s : sockets) {
        std::erase_if(s.access_list, [&](const AccessEntry& e) {
            auto it = uid_of.find(e.name);
            if (it == uid_of.end()) {
                std::optional<Account> a = nss_account_by_name(e.name);
                it = uid_of.emplace(e.name, a ? std::optional<uid_t>(a->uid) : std::nullopt).first;
            }
            return it->second && (*it->second == 0 || *it->second == s.owner_uid());
        });
    }
}

// Limits for what was not asked or not answered.
void query_limits(const std::vector<Socket>& sockets, const std::vector<std::size_t>& targets,
                  std::size_t others, std::size_t unasked, std::vector<std::string>& limits)
{
    if (others != 0)
        limits.push_back("could not query " + counted(others, "server", "servers") + " of other users" +
                         (caller_is_root() ? " (their uid is unknown)" : " (run as root)"));
    if (unasked != 0)
        limits.push_back("did not query " + counted(unasked, "server", "servers") + " within " +
                         std::to_string(kQueryBudgetMs / 1000) + " s");
    for (std::size_t i : targets) {
        if (sockets[i].query == QueryState::failed)
            limits.push_back("could not query " + sockets[i].path + ": " + sockets[i].query_error);
    }
}

}  // namespace

// Stage 4 (contract above).
void query_servers(std::vector<Socket>& sockets, const std::string& tmux,
                   std::vector<std::string>& limits)
{
    std::size_t others = 0;
    std::vector<std::string> unsafe;
    const std::vector<std::size_t> targets = query_targets(sockets, others, unsafe);
    for (const std::string& path : unsafe)
        limits.push_back("did not query " + path);
    const std::map<uid_t, std::optional<Account>> owners = owners_resolve(sockets, targets);
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(kQueryBudgetMs);
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> unasked{0};
    auto worker = [&] {
        for (std::size_t k = next++; k < targets.size(); k = next++) {
            Socket& s = sockets[targets[k]];
            const std::optional<Account>& owner = owners.at(*s.server_uid);
            if (Clock::now() >= deadline) {
                ++unasked;
            } else if (!owner) {
                s.query = QueryState::failed;
                s.query_error = "uid " + std::to_string(*s.server_uid) + " has no account";
            } else {
                query_one(s, tmux, *owner);
            }
        }
    };
    {
        std::vector<std::jthread> pool;
        for (std::size_t i = 0; i < std::min(kQueryParallel, targets.size()); ++i)
            pool.emplace_back(worker);
    }
    access_lists_prune(sockets);
    query_limits(sockets, targets, others, unasked, limits);
}

}  // namespace tgcli::audit
