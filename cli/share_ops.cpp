#include "share_ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>

#include "cli.hpp"
#include "nss.hpp"
#include "tmux_exec.hpp"
#include "tmuxguard/acl.hpp"
#include "tmuxguard/decide.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"

namespace tgcli {

namespace {

constexpr uid_t kNobody = 65534;

// One entry of tmux's access list, or of the list the policy wants.
struct AccessEntry {
    std::string name;
    tg::Mode mode = tg::Mode::none;
};
using AccessList = std::map<uid_t, AccessEntry>;

// Adds to `uids` everyone a permit rule names: the account, the group's
// members, or every regular account for `*`.
void rule_candidates_add(const tg::CompiledRule& r, std::set<uid_t>& uids)
{
    if (r.who_kind == tg::WhoKind::user) {
        uids.insert(static_cast<uid_t>(r.id));
    } else if (r.who_kind == tg::WhoKind::group) {
        for (const std::string& name : nss_group_members(static_cast<gid_t>(r.id))) {
            if (std::optional<Account> a = nss_account_by_name(name))
                uids.insert(a->uid);
        }
    } else {
        static const uid_t uid_min = nss_uid_min();
        for (const Account& a : nss_all_accounts()) {
            if (a.uid >= uid_min && a.uid != kNobody)
                uids.insert(a.uid);
        }
    }
}

// decide() for an account, with its groups from NSS.
tg::Decision account_decide(const tg::CompiledPolicy& c, const tg::CompiledShare& s,
                            const Account& a, std::time_t now)
{
    tg::Caller who{a.uid, a.gid, nss_account_groups(a)};
    return tg::decide(c, who, s.name, tg::Mode::interact, now);
}

// The access list the policy wants now: candidates from the permit rules on
// the share or `*` whose time holds, each then decided; never root or the owner.
AccessList sync_wanted(const tg::CompiledPolicy& c, const tg::CompiledShare& s, std::time_t now,
                       SyncReport& rep)
{
    std::set<uid_t> uids;
    for (const tg::CompiledRule& r : c.rules) {
        if (r.kind == tg::RuleKind::permit && (r.share == s.name || r.share == "*") &&
            tg::rule_time_holds(r, now))
            rule_candidates_add(r, uids);
    }
    AccessList want;
    for (uid_t uid : uids) {
        if (uid == 0 || uid == s.owner_uid)
            continue;
        std::optional<Account> a = nss_account_by_uid(uid);
        if (!a || !tg::name_is_valid_account(a->name)) {
            rep.errors.push_back("uid " + std::to_string(uid) + " has no usable account name");
            continue;
        }
        tg::Decision d = account_decide(c, s, *a, now);
        if (d.verdict == tg::Verdict::allow && d.mode != tg::Mode::none)
            want[uid] = AccessEntry{a->name, d.mode};
    }
    return want;
}

// Runs one server-access command as the owner; an error message or "".
std::string access_run(const tg::CompiledPolicy& c, const tg::CompiledShare& s,
                       const Account& owner, const std::vector<std::string>& args,
                       std::string* out = nullptr)
{
    std::vector<std::string> argv{"server-access"};
    argv.insert(argv.end(), args.begin(), args.end());
    tg::Result<TmuxResult> r = tmux_run_as(c.tmux, s, owner, argv, TmuxStart::never);
    if (!r)
        return r.error().message();
    if (r->status != 0) {
        std::string why = r->err.empty() ? r->out : r->err;
        while (!why.empty() && why.back() == '\n')
            why.pop_back();
        return "tmux server-access failed (status " + std::to_string(r->status) + "): " + why;
    }
    if (out != nullptr)
        *out = r->out;
    return {};
}

// Parses one "NAME (R)" / "NAME (W)" line into `cur`; false if malformed.
bool access_line_parse(std::string_view line, const tg::CompiledShare& s, AccessList& cur,
                       SyncReport& rep)
{
    if (line.size() < 5 || (!line.ends_with(" (R)") && !line.ends_with(" (W)")))
        return false;
    std::string name(line.substr(0, line.size() - 4));
    tg::Mode mode = line[line.size() - 2] == 'R' ? tg::Mode::view : tg::Mode::interact;
    std::optional<Account> a;
    if (tg::name_is_valid_account(name))
        a = nss_account_by_name(name);
    if (!a)
        rep.errors.push_back("cannot manage '" + name + "' on the server's access list: no such account");
    else if (a->uid != 0 && a->uid != s.owner_uid)
        cur[a->uid] = AccessEntry{a->name, mode};
    return true;
}

// `server-access -l` as the owner, parsed; false (with an error) on failure.
bool sync_current(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const Account& owner,
                  AccessList& cur, SyncReport& rep)
{
    std::string out;
    if (std::string err = access_run(c, s, owner, {"-l"}, &out); !err.empty()) {
        rep.errors.push_back(err);
        return false;
    }
    std::size_t pos = 0;
    while (pos < out.size()) {
        std::size_t end = out.find('\n', pos);
        if (end == std::string::npos)
            end = out.size();
        std::string_view line(out.data() + pos, end - pos);
        if (!line.empty() && !access_line_parse(line, s, cur, rep)) {
            rep.errors.push_back("unexpected server-access output: " + std::string(line));
            return false;
        }
        pos = end + 1;
    }
    return true;
}

// Writes the decision record of a revoke.
void revoke_log(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const SyncReport& rep,
                uid_t uid, std::time_t now)
{
    tg::DecisionRecord r;
    r.event = "revoke";
    r.allow = false;
    r.reason = "no-rule";
    r.share = s.name;
    r.mode = "none";
    r.owner_uid = s.owner_uid;
    r.socket = s.socket;
    r.server_pid = rep.server_pid;
    if (std::optional<Account> a = nss_account_by_uid(uid)) {
        tg::Decision d = account_decide(c, s, *a, now);
        r.reason = d.reason;
        r.rule = d.rule != nullptr ? c.rule_source(*d.rule) : "";
    }
    r.detail = "revoked by uid " + std::to_string(::getuid());
    r.uid = uid;
    cli_log_event(c, r, "sync");
}

// One tmux command per difference: revokes first, then adds and changes.
void sync_apply(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const Account& owner,
                const AccessList& want, const AccessList& cur, std::time_t now, SyncReport& rep)
{
    for (const auto& [uid, e] : cur) {
        if (want.contains(uid))
            continue;
        if (std::string err = access_run(c, s, owner, {"-d", e.name}); !err.empty()) {
            rep.errors.push_back(err);
            continue;
        }
        rep.changes.push_back(SyncChange{SyncAction::revoke, e.name, uid, tg::Mode::none, e.mode});
        revoke_log(c, s, rep, uid, now);
    }
    for (const auto& [uid, w] : want) {
        auto it = cur.find(uid);
        if (it != cur.end() && it->second.mode == w.mode)
            continue;
        std::string flag = w.mode == tg::Mode::view ? "-r" : "-w";
        std::vector<std::string> args = it == cur.end() ? std::vector<std::string>{"-a", flag, w.name}
                                                        : std::vector<std::string>{flag, w.name};
        if (std::string err = access_run(c, s, owner, args); !err.empty()) {
            rep.errors.push_back(err);
            continue;
        }
        SyncAction act = it == cur.end() ? SyncAction::add : SyncAction::change;
        tg::Mode old = it == cur.end() ? tg::Mode::none : it->second.mode;
        rep.changes.push_back(SyncChange{act, w.name, uid, w.mode, old});
    }
}

// "sync SHARE: +alice view" / "~alice interact (was view)" / "-bob revoked".
std::string change_text(const SyncChange& ch)
{
    switch (ch.action) {
    case SyncAction::add:
        return "+" + ch.user + " " + std::string(tg::mode_name(ch.mode));
    case SyncAction::change:
        return "~" + ch.user + " " + std::string(tg::mode_name(ch.mode)) + " (was " +
               std::string(tg::mode_name(ch.old_mode)) + ")";
    case SyncAction::revoke:
        break;
    }
    return "-" + ch.user + " revoked";
}

std::string_view action_name(SyncAction a)
{
    switch (a) {
    case SyncAction::add:
        return "add";
    case SyncAction::change:
        return "change";
    case SyncAction::revoke:
        break;
    }
    return "revoke";
}

}  // namespace

// compiled_policy_load(), refused when missing, unreadable or invalid.
std::optional<tg::CompiledPolicy> policy_load_valid(std::string_view command)
{
    tg::Result<tg::CompiledPolicy> c = compiled_policy_load();
    if (!c) {
        err_line(command, "cannot read the compiled policy: " + c.error().message());
        return std::nullopt;
    }
    if (!c->invalid.empty()) {
        err_line(command, "policy invalid (every attach is denied): " + c->invalid);
        return std::nullopt;
    }
    return std::move(*c);
}

// Root, or the owner itself (real and effective uid).
bool caller_may_manage(const tg::CompiledShare& s)
{
    return caller_is_root() || (::getuid() == s.owner_uid && ::geteuid() == s.owner_uid);
}

// Named shares must exist and be the caller's; no names: all the caller's.
tg::Result<std::vector<const tg::CompiledShare*>>
share_targets(const tg::CompiledPolicy& c, const std::vector<std::string>& names,
              std::string_view verb)
{
    std::vector<const tg::CompiledShare*> out;
    for (const std::string& n : names) {
        const tg::CompiledShare* s = tg::name_is_valid_share(n) ? c.find_share(n) : nullptr;
        if (s == nullptr)
            return tg::fail("unknown-share", 0, {}, "unknown share '" + n + "'");
        if (!caller_may_manage(*s))
            return tg::fail("not-owner", 0, {},
                            "only the owner of " + n + " or root may " + std::string(verb) + " it");
        out.push_back(s);
    }
    for (const tg::CompiledShare& s : c.shares) {
        if (names.empty() && caller_may_manage(s))
            out.push_back(&s);
    }
    return out;
}

// "not-owner" is a refusal (1); an unknown share a usage error (2).
int share_targets_status(const tg::Error& e)
{
    return e.reason == "not-owner" ? kExitRefused : kExitUsage;
}

// dir_open_verified on the socket's directory, then server_probe_at.
tg::Result<ServerProbe> server_probe(const tg::CompiledShare& s)
{
    std::string dir = path_dirname(s.socket);
    tg::Result<tg::UniqueFd> fd = tg::dir_open_verified(dir, s.owner_uid);
    if (!fd && (fd.error().err == ENOENT || fd.error().reason == "path-missing"))
        return ServerProbe{ServerState::no_dir, {}, {}, {}};
    if (!fd)
        return std::unexpected(fd.error());
    return server_probe_at(std::move(*fd), s);
}

// openat(O_PATH|O_NOFOLLOW), fstat: a socket of the owner's; then peer_verify.
tg::Result<ServerProbe> server_probe_at(tg::UniqueFd dir, const tg::CompiledShare& s)
{
    ServerProbe p;
    std::string base = path_basename(s.socket);
    p.socket.reset(::openat(dir.get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    p.dir = std::move(dir);
    if (!p.socket.valid() && errno == ENOENT)
        return p;
    struct stat st {};
    if (!p.socket.valid() || ::fstat(p.socket.get(), &st) != 0)
        return tg::fail("path-error", errno, s.socket, "cannot open");
    if (!S_ISSOCK(st.st_mode))
        return tg::fail("not-a-socket", 0, s.socket, "not a socket; left alone");
    if (st.st_uid != s.owner_uid)
        return tg::fail("socket-owner-mismatch", 0, s.socket,
                        "owned by uid " + std::to_string(st.st_uid) + "; left alone");
    tg::Result<tg::PeerInfo> peer = tg::peer_verify(p.socket.get(), s.owner_uid);
    if (peer) {
        p.state = ServerState::running;
        p.peer = *peer;
    } else if (peer.error().reason == "server-not-running") {
        p.state = ServerState::stale;
    } else if (peer.error().reason != "socket-missing") {
        return std::unexpected(peer.error());
    }
    return p;
}

// The policy first, so the share pointers point into the returned object
// (moving a vector keeps its elements where they are).
std::expected<ShareSelection, int> share_selection_load(const std::vector<std::string>& names,
                                                        std::string_view command,
                                                        std::string_view verb)
{
    std::optional<tg::CompiledPolicy> c = policy_load_valid(command);
    if (!c)
        return std::unexpected(kExitUsage);
    ShareSelection sel{std::move(*c), {}};
    tg::Result<std::vector<const tg::CompiledShare*>> targets =
        share_targets(sel.policy, names, verb);
    if (!targets) {
        err_line(command, targets.error().detail);
        return std::unexpected(share_targets_status(targets.error()));
    }
    sel.shares = std::move(*targets);
    return sel;
}

// sync_wanted(), keyed by account name.
std::map<std::string, tg::Mode> share_access_wanted(const tg::CompiledPolicy& c,
                                                    const tg::CompiledShare& s, std::time_t now,
                                                    std::vector<std::string>& errors)
{
    SyncReport rep;
    std::map<std::string, tg::Mode> out;
    for (const auto& [uid, e] : sync_wanted(c, s, now, rep))
        out[e.name] = e.mode;
    errors = std::move(rep.errors);
    return out;
}

// Probe, socket ACL, wanted vs current list, apply the differences.
SyncReport sync_share(const tg::CompiledPolicy& c, const tg::CompiledShare& s, std::time_t now)
{
    SyncReport rep;
    rep.share = s.name;
    tg::Result<ServerProbe> probe = server_probe(s);
    if (!probe) {
        rep.errors.push_back(probe.error().message());
        return rep;
    }
    if (probe->state != ServerState::running)
        return rep;
    rep.running = true;
    rep.server_pid = probe->peer.pid;
    if (tg::Result<void> acl = tg::acl_apply_socket(probe->socket.get(), c.gate_gid); !acl)
        rep.errors.push_back("socket ACL: " + acl.error().message());
    std::optional<Account> owner = nss_account_by_uid(s.owner_uid);
    if (!owner) {
        rep.errors.push_back("owner uid " + std::to_string(s.owner_uid) + " has no account");
        return rep;
    }
    AccessList want = sync_wanted(c, s, now, rep);
    AccessList cur;
    if (sync_current(c, s, *owner, cur, rep))
        sync_apply(c, s, *owner, want, cur, now, rep);
    return rep;
}

// Human lines; errors to stderr.
void sync_report_print(const SyncReport& r, std::string_view command)
{
    for (const std::string& e : r.errors)
        err_line(command, r.share + ": " + e);
    if (!r.running && r.ok()) {
        out_line(r.share + ": not running");
        return;
    }
    for (const SyncChange& ch : r.changes)
        out_line("sync " + r.share + ": " + change_text(ch));
    if (r.running && r.changes.empty() && r.ok())
        out_line("sync " + r.share + ": in sync");
}

// {"share":..,"running":..,"server_pid":..,"changes":[..],"errors":[..]}
std::string sync_report_json(const SyncReport& r)
{
    std::string changes = "[";
    for (std::size_t i = 0; i < r.changes.size(); ++i) {
        const SyncChange& ch = r.changes[i];
        changes += (i != 0 ? "," : "");
        changes += "{\"user\":" + json_quote(ch.user) + ",\"uid\":" + std::to_string(ch.uid) +
                   ",\"action\":" + json_quote(action_name(ch.action)) +
                   ",\"mode\":" + json_quote(tg::mode_name(ch.mode)) + "}";
    }
    changes += "]";
    std::string pid = r.running ? std::to_string(r.server_pid) : "null";
    return "{\"share\":" + json_quote(r.share) + ",\"running\":" + (r.running ? "true" : "false") +
           ",\"server_pid\":" + pid + ",\"changes\":" + changes +
           ",\"errors\":" + json_string_array(r.errors) + "}";
}

}  // namespace tgcli
