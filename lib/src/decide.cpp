// The decision engine (docs/architecture.md "Decision rules").
//
// Contract, decide() MUST:
//  1. deny everything, the owner included, when the policy is invalid;
//  2. give the share's owner interact (view with -r), whatever the rules say;
//  3. let a matching deny win over every permit, reporting the first;
//  4. otherwise allow the most permissive matching permit whose time
//     conditions hold, never more than the caller requested;
//  5. otherwise deny: "expired" if a matching permit's until has passed,
//     else "outside-hours" if one failed its hours or days, else "no-rule";
//  6. decide a share that does not exist exactly like one without rules,
//     so a denial never tells whether a share exists.
#include "tmuxguard/decide.hpp"

#include <algorithm>
#include <optional>

namespace tg {

namespace {

// Why a matching permit does or does not hold now; ordered so that a larger
// value is the better explanation of a denial.
enum class TimeFit : std::uint8_t { holds, outside_hours, expired };

// Local time of `now`, computed once per decision and only if a rule needs it.
class LocalClock {
public:
    explicit LocalClock(std::time_t now) : now_(now) {}

    [[nodiscard]] std::time_t now() const { return now_; }

    // nullptr when localtime_r fails (then no window can hold: fail closed).
    [[nodiscard]] const struct tm* local()
    {
        if (!tm_) {
            struct tm t {};
            if (::localtime_r(&now_, &t) == nullptr)
                return nullptr;
            tm_ = t;
        }
        return &*tm_;
    }

private:
    std::time_t now_;
    std::optional<struct tm> tm_;
};

// hours [from, to), wrapping when to <= from; to == 1440 is midnight.
bool window_holds(int from, int to, int minute)
{
    if (from < to)
        return minute >= from && minute < to;
    return minute >= from || minute < to;
}

bool rule_has_window(const CompiledRule& r)
{
    return r.minute_from >= 0 || r.days != 0;
}

// hours and days against the local time of now.
bool rule_window_holds(const CompiledRule& r, LocalClock& clock)
{
    if (!rule_has_window(r))
        return true;
    const struct tm* t = clock.local();
    if (t == nullptr)
        return false;
    if (r.days != 0 && (r.days & (1u << t->tm_wday)) == 0)
        return false;
    if (r.minute_from >= 0 && !window_holds(r.minute_from, r.minute_to, t->tm_hour * 60 + t->tm_min))
        return false;
    return true;
}

TimeFit rule_time_fit(const CompiledRule& r, LocalClock& clock)
{
    if (r.until != 0 && !(static_cast<std::int64_t>(clock.now()) < r.until))
        return TimeFit::expired;
    return rule_window_holds(r, clock) ? TimeFit::holds : TimeFit::outside_hours;
}

bool rule_matches_caller(const CompiledRule& r, const Caller& who)
{
    switch (r.who_kind) {
    case WhoKind::any:
        return true;
    case WhoKind::user:
        return r.id == who.uid;
    case WhoKind::group:
        return r.id == who.gid ||
               std::find(who.groups.begin(), who.groups.end(), r.id) != who.groups.end();
    }
    return false;
}

bool rule_matches(const CompiledRule& r, const Caller& who, std::string_view share)
{
    return (r.share == "*" || r.share == share) && rule_matches_caller(r, who);
}

Decision decision_make(Verdict v, Mode m, const char* reason, const CompiledRule* rule)
{
    Decision d;
    d.verdict = v;
    d.mode = m;
    d.reason = reason;
    d.rule = rule;
    return d;
}

// Rule 3: the first matching deny, or nullptr.
const CompiledRule* deny_find(const CompiledPolicy& p, const Caller& who, std::string_view share)
{
    for (const CompiledRule& r : p.rules) {
        if (r.kind == RuleKind::deny && rule_matches(r, who, share))
            return &r;
    }
    return nullptr;
}

// Rules 4 and 5 over the matching permits.
Decision permit_decide(const CompiledPolicy& p, const Caller& who, std::string_view share,
                       Mode requested, std::time_t now)
{
    LocalClock clock(now);
    const CompiledRule* best = nullptr;
    const CompiledRule* failed = nullptr;
    TimeFit worst = TimeFit::holds;
    for (const CompiledRule& r : p.rules) {
        if (r.kind != RuleKind::permit || !rule_matches(r, who, share))
            continue;
        TimeFit fit = rule_time_fit(r, clock);
        if (fit == TimeFit::holds && (best == nullptr || r.mode > best->mode))
            best = &r;
        if (fit > worst) {
            worst = fit;
            failed = &r;
        }
    }
    if (best != nullptr)
        return decision_make(Verdict::allow, std::min(best->mode, requested), "permitted", best);
    if (worst == TimeFit::expired)
        return decision_make(Verdict::deny, Mode::none, "expired", failed);
    if (worst == TimeFit::outside_hours)
        return decision_make(Verdict::deny, Mode::none, "outside-hours", failed);
    return decision_make(Verdict::deny, Mode::none, "no-rule", nullptr);
}

}  // namespace

// The rules of docs/architecture.md, in their order; the last word is deny.
Decision decide(const CompiledPolicy& p, const Caller& who, std::string_view share, Mode requested,
                std::time_t now)
{
    if (!p.invalid.empty())
        return decision_make(Verdict::deny, Mode::none, "policy-invalid", nullptr);
    if (requested == Mode::none)  // nothing asked for, nothing granted
        return decision_make(Verdict::deny, Mode::none, "no-rule", nullptr);
    const CompiledShare* s = p.find_share(share);
    if (s != nullptr && s->owner_uid == who.uid)
        return decision_make(Verdict::allow, std::min(Mode::interact, requested), "owner", nullptr);
    if (const CompiledRule* d = deny_find(p, who, share))
        return decision_make(Verdict::deny, Mode::none, "denied-by-rule", d);
    return permit_decide(p, who, share, requested, now);
}

// until, days and hours of one rule at `now` (local time).
bool rule_time_holds(const CompiledRule& r, std::time_t now)
{
    LocalClock clock(now);
    return rule_time_fit(r, clock) == TimeFit::holds;
}

}  // namespace tg
