// Properties of a compiled policy shared by fuzz_policy and fuzz_compiled:
// the wrapper's filtered read must see exactly what the full read sees of
// the share it asks for, and must decide exactly the same; and decide()
// must keep the documented rules (docs/architecture.md "Decision rules").
#pragma once

#include <time.h>

#include <algorithm>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz.hpp"
#include "tmuxguard/compiled.hpp"
#include "tmuxguard/decide.hpp"
#include "tmuxguard/names.hpp"

namespace tgfuzz {

// A rule as one comparable line (every field, in compiled.hpp's order).
inline std::string rule_line(const tg::CompiledRule& r)
{
    return r.share + " " + std::to_string(static_cast<int>(r.kind)) + " " +
           std::to_string(static_cast<int>(r.mode)) + " " +
           std::to_string(static_cast<int>(r.who_kind)) + " " + std::to_string(r.id) + " " +
           std::to_string(r.minute_from) + " " + std::to_string(r.minute_to) + " " +
           std::to_string(r.days) + " " + std::to_string(r.until) + " " +
           std::to_string(r.file_index) + " " + std::to_string(r.line);
}

inline std::vector<std::string> rule_lines_sorted(const std::vector<tg::CompiledRule>& rules)
{
    std::vector<std::string> out;
    for (const tg::CompiledRule& r : rules)
        out.push_back(rule_line(r));
    std::sort(out.begin(), out.end());
    return out;
}

// Property: a filtered read of (share, uid) equals the full read restricted
// to the records the filter promises: the head, the rules of `share` and of
// "*", the share's own record, the user record of `uid` (all without uid).
// And rules come back in file order in both.
inline void view_check(const tg::CompiledPolicy& full, const tg::CompiledPolicy& part,
                       std::string_view share, std::optional<uid_t> uid, std::string_view context)
{
    FUZZ_CHECK(part.gate_gid == full.gate_gid && part.log == full.log &&
                   part.syslog == full.syslog && part.tmux == full.tmux &&
                   part.runtime_dir == full.runtime_dir && part.files == full.files &&
                   part.invalid == full.invalid,
               context);
    std::vector<tg::CompiledRule> want_rules;
    for (const tg::CompiledRule& r : full.rules)
        if (r.share == "*" || (tg::name_is_valid_share(share) && r.share == share))
            want_rules.push_back(r);
    FUZZ_CHECK(rule_lines_sorted(part.rules) == rule_lines_sorted(want_rules), context);
    auto file_order = [](const tg::CompiledRule& a, const tg::CompiledRule& b) {
        return a.file_index != b.file_index ? a.file_index < b.file_index : a.line < b.line;
    };
    FUZZ_CHECK(std::is_sorted(part.rules.begin(), part.rules.end(), file_order), context);
    FUZZ_CHECK(std::is_sorted(full.rules.begin(), full.rules.end(), file_order), context);

    std::vector<std::string> want_shares;
    std::vector<std::string> got_shares;
    for (const tg::CompiledShare& s : full.shares)
        if (s.name == share)
            want_shares.push_back(s.name + " " + std::to_string(s.owner_uid) + " " + s.socket);
    for (const tg::CompiledShare& s : part.shares)
        got_shares.push_back(s.name + " " + std::to_string(s.owner_uid) + " " + s.socket);
    std::sort(want_shares.begin(), want_shares.end());
    std::sort(got_shares.begin(), got_shares.end());
    FUZZ_CHECK(got_shares == want_shares, context);

    std::vector<std::string> want_users;
    std::vector<std::string> got_users;
    for (const tg::AccountInfo& a : full.users)
        if (!uid || a.uid == *uid)
            want_users.push_back(std::to_string(a.uid) + " " + a.name + " " + a.home + " " + a.shell);
    for (const tg::AccountInfo& a : part.users)
        got_users.push_back(std::to_string(a.uid) + " " + a.name + " " + a.home + " " + a.shell);
    std::sort(want_users.begin(), want_users.end());
    std::sort(got_users.begin(), got_users.end());
    FUZZ_CHECK(got_users == want_users, context);
}

// Whether a rule's time conditions hold at `now`, from the documented
// meaning (UTC: the fuzzers run with TZ=UTC): until allows while now < T,
// days names the day of now (bit 0 Sunday, 0 every day), hours A-B is
// A <= minute < B, wrapping past midnight when B <= A.
inline bool reference_time_holds(const tg::CompiledRule& r, std::time_t now)
{
    if (r.until != 0 && !(static_cast<std::int64_t>(now) < r.until))
        return false;
    if (r.days == 0 && r.minute_from < 0)
        return true;
    struct tm t {};
    if (::gmtime_r(&now, &t) == nullptr)
        return false;
    if (r.days != 0 && (r.days & (1u << t.tm_wday)) == 0)
        return false;
    if (r.minute_from >= 0) {
        int m = t.tm_hour * 60 + t.tm_min;
        bool in = r.minute_from < r.minute_to ? (m >= r.minute_from && m < r.minute_to)
                                              : (m >= r.minute_from || m < r.minute_to);
        if (!in)
            return false;
    }
    return true;
}

inline bool reference_who_matches(const tg::CompiledRule& r, const tg::Caller& who)
{
    if (r.who_kind == tg::WhoKind::any)
        return true;
    if (r.who_kind == tg::WhoKind::user)
        return r.id == who.uid;
    return r.id == who.gid || std::find(who.groups.begin(), who.groups.end(), r.id) != who.groups.end();
}

// Property: decide() keeps the documented rules. Invalid denies all; the
// owner gets interact (lowered by -r); a matching deny wins; an allow is
// the most permissive matching permit that holds now, never above the
// request, and names a rule that matches; a denial without any matching
// permit is "no-rule"; with a matching permit that does not hold now it is
// "expired" or "outside-hours".
inline void decision_check(const tg::CompiledPolicy& p, const tg::Caller& who, std::string_view share,
                           tg::Mode requested, std::time_t now, std::string_view context)
{
    tg::Decision d = tg::decide(p, who, share, requested, now);
    FUZZ_CHECK(d.verdict == tg::Verdict::deny || d.verdict == tg::Verdict::allow, context);
    if (!p.invalid.empty()) {
        FUZZ_CHECK(d.verdict == tg::Verdict::deny && d.reason == "policy-invalid", context);
        return;
    }
    if (requested == tg::Mode::none) {
        FUZZ_CHECK(d.verdict == tg::Verdict::deny, context);
        return;
    }
    const tg::CompiledShare* s = p.find_share(share);
    if (s != nullptr && s->owner_uid == who.uid) {
        FUZZ_CHECK(d.verdict == tg::Verdict::allow && d.mode == requested && d.reason == "owner", context);
        return;
    }
    auto matches = [&](const tg::CompiledRule& r) {
        return (r.share == "*" || r.share == share) && reference_who_matches(r, who);
    };
    const tg::CompiledRule* first_deny = nullptr;
    tg::Mode best = tg::Mode::none;
    bool any_permit = false;
    for (const tg::CompiledRule& r : p.rules) {
        if (!matches(r))
            continue;
        if (r.kind == tg::RuleKind::deny && first_deny == nullptr)
            first_deny = &r;
        if (r.kind == tg::RuleKind::permit) {
            any_permit = true;
            if (reference_time_holds(r, now) && r.mode > best)
                best = r.mode;
        }
    }
    if (first_deny != nullptr) {
        FUZZ_CHECK(d.verdict == tg::Verdict::deny && d.reason == "denied-by-rule", context);
        FUZZ_CHECK(d.rule != nullptr && rule_line(*d.rule) == rule_line(*first_deny), context);
        return;
    }
    if (best != tg::Mode::none) {
        FUZZ_CHECK(d.verdict == tg::Verdict::allow && d.reason == "permitted", context);
        FUZZ_CHECK(d.mode == std::min(best, requested), context);
        FUZZ_CHECK(d.rule != nullptr && matches(*d.rule) && d.rule->kind == tg::RuleKind::permit &&
                       d.rule->mode == best && reference_time_holds(*d.rule, now),
                   context);
        return;
    }
    FUZZ_CHECK(d.verdict == tg::Verdict::deny && d.mode == tg::Mode::none, context);
    if (!any_permit)
        FUZZ_CHECK(d.reason == "no-rule", context);
    else
        FUZZ_CHECK(d.reason == "expired" || d.reason == "outside-hours", context);
}

// Property: the wrapper's view decides exactly like the full policy.
inline void decisions_agree(const tg::CompiledPolicy& full, const tg::CompiledPolicy& part,
                            const tg::Caller& who, std::string_view share, std::time_t now,
                            std::string_view context)
{
    for (tg::Mode m : {tg::Mode::view, tg::Mode::interact}) {
        tg::Decision a = tg::decide(full, who, share, m, now);
        tg::Decision b = tg::decide(part, who, share, m, now);
        FUZZ_CHECK(a.verdict == b.verdict && a.mode == b.mode && a.reason == b.reason, context);
        FUZZ_CHECK((a.rule == nullptr) == (b.rule == nullptr), context);
        if (a.rule != nullptr)
            FUZZ_CHECK(full.rule_source(*a.rule) == part.rule_source(*b.rule), context);
        decision_check(full, who, share, m, now, context);
    }
}

// The callers worth deciding for: every uid the policy names (as owner,
// user entry or rule id), one nobody names, each with the gids the rules
// name as its groups in turn. Bounded so one input stays fast.
inline std::vector<tg::Caller> callers_of(const tg::CompiledPolicy& c)
{
    std::set<uid_t> uids{4242};
    std::set<gid_t> gids;
    for (const tg::CompiledShare& s : c.shares)
        uids.insert(s.owner_uid);
    for (const tg::AccountInfo& a : c.users)
        uids.insert(a.uid);
    for (const tg::CompiledRule& r : c.rules) {
        if (r.who_kind == tg::WhoKind::user)
            uids.insert(r.id);
        else if (r.who_kind == tg::WhoKind::group)
            gids.insert(r.id);
    }
    std::vector<tg::Caller> out;
    for (uid_t u : uids) {
        if (out.size() >= 8)
            break;
        out.push_back(tg::Caller{u, 4343, {}});
        if (!gids.empty())
            out.push_back(tg::Caller{u, *gids.begin(), {gids.begin(), gids.end()}});
    }
    return out;
}

// Share names worth asking for: every defined share and every share a rule
// names (bounded), plus one nobody names.
inline std::vector<std::string> shares_of(const tg::CompiledPolicy& c)
{
    std::set<std::string> names{"undefined-share"};
    for (const tg::CompiledShare& s : c.shares)
        names.insert(s.name);
    for (const tg::CompiledRule& r : c.rules)
        if (r.share != "*")
            names.insert(r.share);
    std::vector<std::string> out(names.begin(), names.end());
    if (out.size() > 6)
        out.resize(6);
    return out;
}

// Moments to decide at: a few fixed ones around the rules' times and `seed`.
inline std::vector<std::time_t> moments_of(const tg::CompiledPolicy& c, std::time_t seed)
{
    std::vector<std::time_t> out{seed, 1767225600 /* 2026-01-01 Thu 00:00 UTC */,
                                 1767225600 + 3 * 86400 + 13 * 3600 + 30 * 60};
    for (const tg::CompiledRule& r : c.rules) {
        if (r.until != 0 && out.size() < 6) {
            out.push_back(static_cast<std::time_t>(r.until - 1));
            out.push_back(static_cast<std::time_t>(r.until));
        }
    }
    return out;
}

// All of the above for a text that compiled_parse() accepted in full.
inline void compiled_text_check(std::string_view text, const tg::CompiledPolicy& full, std::time_t seed)
{
    const std::vector<tg::Caller> callers = callers_of(full);
    const std::vector<std::time_t> moments = moments_of(full, seed);
    for (const std::string& share : shares_of(full)) {
        std::vector<std::optional<uid_t>> uids{std::nullopt};
        for (const tg::Caller& who : callers)
            uids.push_back(who.uid);
        for (const std::optional<uid_t>& uid : uids) {
            auto part = tg::compiled_parse(text, share, uid);
            FUZZ_CHECK(part.has_value(), text);  // what the full read accepts, the wrapper reads
            view_check(full, *part, share, uid, text);
        }
        for (const tg::Caller& who : callers) {
            auto part = tg::compiled_parse(text, share, who.uid);
            for (std::time_t now : moments)
                decisions_agree(full, *part, who, share, now, text);
        }
    }
}

}  // namespace tgfuzz
