// audit, stage 5: findings (audit.hpp; the codes and severities are in
// docs/cli.md). High means: someone who should not can run commands as the
// server's owner right now. Every finding names one socket, says what is
// wrong in one sentence and how to fix it in one line.
#include <algorithm>

#include "audit.hpp"
#include "share_ops.hpp"
#include "tmuxguard/acl.hpp"
#include "tmuxguard/acl_eval.hpp"

namespace tgcli::audit {
namespace {

constexpr std::size_t kNamesShown = 10;
constexpr std::uint8_t kReadWrite = tg::kAclRead | tg::kAclWrite;

// "a, b and 3 more".
std::string names_join(const std::vector<std::string>& names)
{
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < kNamesShown; ++i)
        out += (i == 0 ? "" : ", ") + names[i];
    if (names.size() > kNamesShown)
        out += " and " + std::to_string(names.size() - kNamesShown) + " more";
    return out;
}

// "rw-".
std::string perms_text(std::uint8_t p)
{
    std::string s = "---";
    if (p & tg::kAclRead)
        s[0] = 'r';
    if (p & tg::kAclWrite)
        s[1] = 'w';
    if (p & tg::kAclExec)
        s[2] = 'x';
    return s;
}

// "view (R)", "interact (W)".
std::string mode_text(tg::Mode m)
{
    return std::string(tg::mode_name(m)) + (m == tg::Mode::view ? " (R)" : m == tg::Mode::interact ? " (W)" : "");
}

// The judge of one run: the context every rule needs.
class Judge {
public:
    Judge(const tg::CompiledPolicy* policy, const std::vector<Principal>& principals,
          std::time_t now, std::vector<std::string>& limits)
        : policy_(policy), principals_(principals), now_(now), limits_(limits)
    {
        for (const Principal& p : principals)
            if (p.kind == Principal::Kind::account)
                uid_of_.emplace(p.name, p.uid);
    }

    void socket_judge(const Socket& s)
    {
        if (s.state == Liveness::stale)
            return stale_judge(s);
        reach_judge(s);
        acl_judge(s);
        if (!s.open_dir.empty())
            add(Severity::medium, "dir-writable", s,
                s.open_dir + " (" + s.open_dir_detail + ") lets others replace the socket: " +
                    account_name(s.owner_uid()) + "'s next tmux client could reach their server instead",
                "chmod go-w " + s.open_dir + ", or keep the socket in a directory only " +
                    (s.owner_uid() == 0 ? std::string("root") : account_name(s.owner_uid()) + " and root") +
                    " can write");
        if (s.state != Liveness::live || !s.tmux)
            return;
        if (s.share == nullptr && policy_ != nullptr)
            add(Severity::info, "not-a-share", s,
                "a tmux server of " + account_name(s.owner_uid()) + " that tmuxguard does not manage",
                "define it as a share and start it with tmuxguard serve, or keep its socket in a 0700 directory");
        if (s.query == QueryState::no_access_list)
            old_judge(s);
        if (s.query == QueryState::answered)
            list_judge(s);
        if (s.share != nullptr && s.reach.known && policy_ != nullptr)
            gate_judge(s);
    }

    std::vector<Finding> take() { return std::move(out_); }

private:
    void add(Severity sev, std::string code, const Socket& s, std::string message, std::string fix)
    {
        out_.push_back(Finding{sev, std::move(code), s.path, std::move(message), std::move(fix)});
    }

    // Accounts that reach the socket, other than root and its owner.
    std::vector<std::string> intruders(const Socket& s) const
    {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < s.reach.uids.size(); ++i) {
            if (s.reach.uids[i] != s.owner_uid())
                out.push_back(s.reach.accounts[i]);
        }
        return out;
    }

    [[nodiscard]] bool reachable_by_others(const Socket& s) const
    {
        return s.reach.known && (s.reach.everyone || !intruders(s).empty());
    }

    [[nodiscard]] bool uid_reaches(const Socket& s, uid_t uid) const
    {
        return std::find(s.reach.uids.begin(), s.reach.uids.end(), uid) != s.reach.uids.end();
    }

    [[nodiscard]] bool name_reaches(const Socket& s, const std::string& name) const
    {
        auto it = uid_of_.find(name);
        return it != uid_of_.end() && uid_reaches(s, it->second);
    }

    void stale_judge(const Socket& s)
    {
        add(Severity::low, "stale-socket", s, "no server listens on this socket",
            s.share != nullptr ? "tmuxguard serve " + s.share->name + " (removes it and starts the server)"
                               : "rm " + s.path);
    }

    // socket-reachable: someone other than root and the owner can connect.
    void reach_judge(const Socket& s)
    {
        if (!reachable_by_others(s))
            return;
        std::string who = s.reach.everyone
                              ? (s.reach.excluded.empty() ? "everyone" : "everyone but " + names_join(s.reach.excluded))
                              : names_join(intruders(s));
        add(Severity::high, "socket-reachable", s,
            who + " can connect (w on the socket, x on every directory above it)",
            s.share != nullptr
                ? "tmuxguard sync " + s.share->name + ", and take away the extra permissions on the directories above it"
                : "chmod 0600 " + s.path + " and keep it in a 0700 directory, or serve it as a share");
    }

    // acl-overgrant: a named entry beyond the owner (and the gate, for a
    // share) with r or w after the mask.
    void acl_judge(const Socket& s)
    {
        const tg::AclEntry* mask = nullptr;
        for (const tg::AclEntry& e : s.facts.acl)
            if (e.tag == tg::AclTag::mask)
                mask = &e;
        for (const tg::AclEntry& e : s.facts.acl) {
            const bool user = e.tag == tg::AclTag::user;
            if ((!user && e.tag != tg::AclTag::group) || (user && (e.id == s.facts.uid || e.id == s.owner_uid())))
                continue;
            if (!user && s.share != nullptr && policy_ != nullptr && e.id == policy_->gate_gid)
                continue;
            const auto rw = static_cast<std::uint8_t>(e.perms & (mask != nullptr ? mask->perms : 7) & kReadWrite);
            if (rw != 0)
                overgrant_add(s, e, rw);
        }
    }

    void overgrant_add(const Socket& s, const tg::AclEntry& e, std::uint8_t rw)
    {
        const bool user = e.tag == tg::AclTag::user;
        const std::string name = user ? account_name(e.id) : group_name(e.id);
        std::vector<std::string> in;
        for (const Principal& p : principals_) {
            const bool member = user ? p.uid == e.id
                                     : std::find(p.gids.begin(), p.gids.end(), e.id) != p.gids.end();
            if (p.kind == Principal::Kind::account && member && uid_reaches(s, p.uid))
                in.push_back(p.name);
        }
        const std::string entry = std::string(user ? "user:" : "group:") + name + ":" + perms_text(rw);
        std::string msg = "ACL entry " + entry + " (after the mask) gives " + (user ? "" : "group ") + name +
                          " the socket; ";
        msg += in.empty() ? "a directory above it keeps " + std::string(user ? "them" : "its members") + " out for now"
                          : (user ? "they can connect" : "members who can connect: " + names_join(in));
        add(in.empty() ? Severity::medium : Severity::high, "acl-overgrant", s, msg,
            s.share != nullptr ? "tmuxguard sync " + s.share->name + " (re-applies the socket's ACL)"
                               : std::string("setfacl -x ") + (user ? "u:" : "g:") + name + " " + s.path);
    }

    // tmux-old: no server-access, so the socket is the only gate.
    void old_judge(const Socket& s)
    {
        const bool open = reachable_by_others(s);
        add(open ? Severity::high : Severity::low, "tmux-old", s,
            "tmux " + (s.version.empty() ? std::string("older than 3.3") : s.version) +
                " has no access list (server-access came in 3.3): whoever can connect controls the server",
            "upgrade tmux to 3.3 or later and restart the server");
    }

    // access-list-drift (shares) and rw-guest.
    void list_judge(const Socket& s)
    {
        std::map<std::string, tg::Mode> want;
        if (s.share != nullptr && !policy_->invalid.empty()) {
            limits_.push_back(s.share->name + ": the policy is invalid; its access list was not compared");
        } else if (s.share != nullptr) {
            std::vector<std::string> errors;
            want = share_access_wanted(*policy_, *s.share, now_, errors);
            for (const std::string& e : errors)
                limits_.push_back(s.share->name + ": " + e);
            drift_judge(s, want);
        }
        // A share's W entries are the policy's (or drift, above).
        for (const AccessEntry& e : s.access_list) {
            if (e.mode == tg::Mode::interact && s.share == nullptr)
                rw_guest_add(s, e);
        }
    }

    void rw_guest_add(const Socket& s, const AccessEntry& e)
    {
        const bool in = name_reaches(s, e.name);
        const std::string owner = account_name(s.owner_uid());
        add(in ? Severity::high : Severity::medium, "rw-guest", s,
            e.name + " has interact (W) on the server's access list: they can type as " + owner +
                (in ? ", and they can connect" : " once they can connect"),
            "as " + owner + ": tmux -S " + s.path + " server-access -r " + e.name + " (or -d " + e.name + ")");
    }

    void drift_judge(const Socket& s, const std::map<std::string, tg::Mode>& want)
    {
        std::map<std::string, tg::Mode> cur;
        for (const AccessEntry& e : s.access_list)
            cur[e.name] = e.mode;
        std::set<std::string> names;
        for (const auto& [n, m] : cur)
            names.insert(n);
        for (const auto& [n, m] : want)
            names.insert(n);
        for (const std::string& n : names) {
            const tg::Mode c = cur.contains(n) ? cur.at(n) : tg::Mode::none;
            const tg::Mode w = want.contains(n) ? want.at(n) : tg::Mode::none;
            if (c == w)
                continue;
            const Severity sev = c < w ? Severity::low : name_reaches(s, n) ? Severity::high : Severity::medium;
            const std::string has = c == tg::Mode::none ? n + " is not on the server's access list"
                                                        : n + " has " + mode_text(c) + " on the server's access list";
            add(sev, "access-list-drift", s, has + "; the policy allows " + std::string(tg::mode_name(w)),
                "tmuxguard sync " + s.share->name);
        }
    }

    // share-gate-missing: guests cannot get in (the safe direction).
    void gate_judge(const Socket& s)
    {
        tg::Result<void> ok = tg::socket_acl_judge(s.facts.acl, s.share->owner_uid, s.facts.gid, policy_->gate_gid);
        if (!ok && ok.error().reason == "acl-gate-missing")
            add(Severity::low, "share-gate-missing", s,
                "the gate group has no rw- on the socket: every guest is refused",
                "tmuxguard sync " + s.share->name);
    }

    const tg::CompiledPolicy* policy_;
    const std::vector<Principal>& principals_;
    std::time_t now_;
    std::vector<std::string>& limits_;
    std::map<std::string, uid_t> uid_of_;
    std::vector<Finding> out_;
};

}  // namespace

// Stage 5: every socket judged, then most severe first, by socket and code.
std::vector<Finding> findings_judge(const std::vector<Socket>& sockets, const tg::CompiledPolicy* policy,
                                    const std::vector<Principal>& principals, std::time_t now,
                                    std::vector<std::string>& limits)
{
    Judge judge(policy, principals, now, limits);
    for (const Socket& s : sockets)
        judge.socket_judge(s);
    std::vector<Finding> out = judge.take();
    std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
        if (a.severity != b.severity)
            return a.severity > b.severity;
        if (a.socket != b.socket)
            return a.socket < b.socket;
        return a.code < b.code;
    });
    return out;
}

}  // namespace tgcli::audit
