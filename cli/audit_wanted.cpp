// The access list the policy wants for a share, as `sync` computes it.
//
// TEMPORARY COPY of sync_wanted() and its helpers in share_ops.cpp (which
// keeps them in an anonymous namespace). audit must judge drift exactly as
// sync would fix it; the change that removes this file exports
// share_access_wanted() from share_ops.hpp, makes sync_wanted() call it,
// and has audit_findings.cpp call it instead (see the issue 5 audit report).
#include <set>

#include "audit.hpp"
#include "tmuxguard/decide.hpp"
#include "tmuxguard/names.hpp"

namespace tgcli::audit {
namespace {

constexpr uid_t kNobody = 65534;

// Everyone a permit rule names: the account, the group's members, or every
// regular account for `*` (share_ops.cpp rule_candidates_add).
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

}  // namespace

// share_ops.cpp sync_wanted(), keyed by account name.
std::map<std::string, tg::Mode> audit_access_wanted(const tg::CompiledPolicy& c,
                                                    const tg::CompiledShare& s, std::time_t now,
                                                    std::vector<std::string>& errors)
{
    std::set<uid_t> uids;
    for (const tg::CompiledRule& r : c.rules) {
        if (r.kind == tg::RuleKind::permit && (r.share == s.name || r.share == "*") &&
            tg::rule_time_holds(r, now))
            rule_candidates_add(r, uids);
    }
    std::map<std::string, tg::Mode> want;
    for (uid_t uid : uids) {
        if (uid == 0 || uid == s.owner_uid)
            continue;
        std::optional<Account> a = nss_account_by_uid(uid);
        if (!a || !tg::name_is_valid_account(a->name)) {
            errors.push_back("uid " + std::to_string(uid) + " has no usable account name");
            continue;
        }
        tg::Caller who{a->uid, a->gid, nss_account_groups(*a)};
        tg::Decision d = tg::decide(c, who, s.name, tg::Mode::interact, now);
        if (d.verdict == tg::Verdict::allow && d.mode != tg::Mode::none)
            want[a->name] = d.mode;
    }
    return want;
}

}  // namespace tgcli::audit
