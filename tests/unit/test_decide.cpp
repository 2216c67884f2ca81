// decide.hpp: the decision table of docs/architecture.md (deny by default, a
// deny wins, the most permissive permit, -r lowers, the owner rule, an
// invalid policy denies everyone), time windows at their exact edges, and the
// precedence of expired over outside-hours over no-rule. TZ is UTC here.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "tmuxguard/compiled.hpp"
#include "tmuxguard/decide.hpp"
#include "tmuxguard/policy.hpp"
#include "support.hpp"

namespace {

constexpr const char* kFile = tgtest::kPolicyFile;

const auto* const kUtc = ::testing::AddGlobalTestEnvironment(new tgtest::UtcEnvironment);

// Users are "u<uid>" and groups "g<gid>", so a policy names ids directly.
class NumberResolver : public tg::Resolver {
public:
    std::optional<uid_t> user_id(const std::string& name) override { return number(name, 'u'); }
    std::optional<gid_t> group_id(const std::string& name) override { return number(name, 'g'); }
    std::optional<tg::AccountInfo> account(uid_t uid) override
    {
        return tg::AccountInfo{uid, "u" + std::to_string(uid), "/home/x", "/bin/sh"};
    }

private:
    static std::optional<std::uint32_t> number(const std::string& name, char prefix)
    {
        if (name.size() < 2 || name[0] != prefix)
            return std::nullopt;
        return static_cast<std::uint32_t>(std::stoul(name.substr(1)));
    }
};

tg::CompiledPolicy compile(const std::string& text)
{
    NumberResolver r;
    return tgtest::policy_text_compile(text, r);
}

// Epoch seconds of a UTC date and time.
std::time_t utc(int y, int mo, int d, int h, int mi, int s = 0)
{
    struct tm t {};
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = mi;
    t.tm_sec = s;
    return ::timegm(&t);
}

const std::time_t kNoon = utc(2025, 6, 6, 12, 0);  // a Friday

const std::string kTable =
    "share ops owner u1000\n"                 // 1
    "share web owner u1001\n"                 // 2
    "share empty owner u1002\n"               // 3
    "permit view :g2000 on ops\n"             // 4
    "permit interact u1003 on ops\n"          // 5
    "deny u1004 on *\n"                       // 6
    "permit interact u1004 on ops\n"          // 7
    "permit view * on web\n"                  // 8
    "deny u1005 on web\n"                     // 9
    "permit interact u1005 on web\n"          // 10
    "permit interact :g2001 on web\n"         // 11
    "permit view u1006 on *\n"                // 12
    "deny u1000 on ops\n"                     // 13 (the owner: no effect)
    "permit interact :g2001 on web\n"         // 14 (same mode as 11: 11 is reported)
    "deny :g2002 on ops\n";                   // 15

struct DecideCase {
    const char* what;
    tg::Caller who;
    std::string share;
    tg::Mode requested;
    tg::Verdict verdict;
    tg::Mode mode;
    std::string reason;
    unsigned rule_line;  // 0: no rule reported
};

using tg::Mode;
using tg::Verdict;

TEST(Decide, DecisionTable)
{
    tg::CompiledPolicy p = compile(kTable);
    ASSERT_EQ(p.invalid, "");
    const DecideCase cases[] = {
        {"no rule", {1003, 100, {}}, "empty", Mode::interact, Verdict::deny, Mode::none, "no-rule", 0},
        {"no rule for another user", {4000, 100, {}}, "ops", Mode::view, Verdict::deny, Mode::none, "no-rule", 0},
        {"deny wins over a later permit", {1004, 100, {}}, "ops", Mode::interact, Verdict::deny, Mode::none, "denied-by-rule", 6},
        {"deny wins over an earlier permit", {1005, 100, {}}, "web", Mode::view, Verdict::deny, Mode::none, "denied-by-rule", 9},
        {"deny on a group", {4000, 2002, {}}, "ops", Mode::view, Verdict::deny, Mode::none, "denied-by-rule", 15},
        {"* user", {4000, 100, {}}, "web", Mode::interact, Verdict::allow, Mode::view, "permitted", 8},
        {"* share", {1006, 100, {}}, "empty", Mode::interact, Verdict::allow, Mode::view, "permitted", 12},
        {"* share, unknown share", {1006, 100, {}}, "ghost", Mode::interact, Verdict::allow, Mode::view, "permitted", 12},
        {"group by primary gid", {4000, 2000, {}}, "ops", Mode::interact, Verdict::allow, Mode::view, "permitted", 4},
        {"group by supplementary gid", {4000, 100, {5, 2000, 7}}, "ops", Mode::interact, Verdict::allow, Mode::view, "permitted", 4},
        {"group not held", {4000, 100, {5, 2001}}, "ops", Mode::interact, Verdict::deny, Mode::none, "no-rule", 0},
        {"most permissive wins", {1003, 2000, {}}, "ops", Mode::interact, Verdict::allow, Mode::interact, "permitted", 5},
        {"most permissive, first of that mode", {4000, 100, {2001}}, "web", Mode::interact, Verdict::allow, Mode::interact, "permitted", 11},
        {"-r lowers interact to view", {1003, 2000, {}}, "ops", Mode::view, Verdict::allow, Mode::view, "permitted", 5},
        {"-r on a view grant", {4000, 2000, {}}, "ops", Mode::view, Verdict::allow, Mode::view, "permitted", 4},
        {"owner gets interact despite a deny", {1000, 100, {}}, "ops", Mode::interact, Verdict::allow, Mode::interact, "owner", 0},
        {"owner with -r", {1000, 100, {}}, "ops", Mode::view, Verdict::allow, Mode::view, "owner", 0},
        {"owner of another share only", {1000, 100, {}}, "web", Mode::interact, Verdict::allow, Mode::view, "permitted", 8},
        {"owner of a share with no rules", {1002, 100, {}}, "empty", Mode::interact, Verdict::allow, Mode::interact, "owner", 0},
        {"denied user on a share of his own deny *", {1004, 100, {}}, "empty", Mode::view, Verdict::deny, Mode::none, "denied-by-rule", 6},
        {"nothing requested", {1003, 2000, {}}, "ops", Mode::none, Verdict::deny, Mode::none, "no-rule", 0},
    };
    for (const auto& c : cases) {
        tg::Decision d = tg::decide(p, c.who, c.share, c.requested, kNoon);
        EXPECT_EQ(d.verdict, c.verdict) << c.what;
        EXPECT_EQ(d.mode, c.mode) << c.what;
        EXPECT_EQ(d.reason, c.reason) << c.what;
        if (c.rule_line == 0) {
            EXPECT_EQ(d.rule, nullptr) << c.what;
        } else {
            ASSERT_NE(d.rule, nullptr) << c.what;
            EXPECT_EQ(d.rule->line, c.rule_line) << c.what;
            EXPECT_EQ(p.rule_source(*d.rule), std::string(kFile) + ":" + std::to_string(c.rule_line));
        }
    }
}

TEST(Decide, UnknownShareIsDecidedLikeAShareWithNoRules)
{
    tg::CompiledPolicy p = compile(kTable);
    const tg::Caller callers[] = {{1003, 2000, {}}, {1004, 100, {}}, {1006, 100, {}},
                                  {4000, 2001, {2000}}, {0, 0, {}}};
    for (const tg::Caller& who : callers) {
        for (Mode m : {Mode::view, Mode::interact}) {
            tg::Decision a = tg::decide(p, who, "empty", m, kNoon);
            tg::Decision b = tg::decide(p, who, "no-such-share", m, kNoon);
            EXPECT_EQ(a.verdict, b.verdict) << who.uid;
            EXPECT_EQ(a.mode, b.mode) << who.uid;
            EXPECT_EQ(a.reason, b.reason) << who.uid;
            EXPECT_EQ(a.rule, b.rule) << who.uid;
        }
    }
}

TEST(Decide, InvalidPolicyDeniesTheOwnerToo)
{
    tg::CompiledPolicy p = compile(kTable + "permit view u1003 on ops hours 25:00-26:00\n");
    ASSERT_NE(p.invalid, "");
    for (const tg::Caller& who : {tg::Caller{1000, 100, {}}, tg::Caller{1003, 2000, {}}}) {
        tg::Decision d = tg::decide(p, who, "ops", Mode::view, kNoon);
        EXPECT_EQ(d.verdict, Verdict::deny);
        EXPECT_EQ(d.mode, Mode::none);
        EXPECT_EQ(d.reason, "policy-invalid");
        EXPECT_EQ(d.rule, nullptr);
    }
    // and a compiled file carrying `invalid` next to rules is still invalid
    tg::CompiledPolicy q = compile(kTable);
    q.invalid = "x";
    EXPECT_EQ(tg::decide(q, {1000, 100, {}}, "ops", Mode::interact, kNoon).reason, "policy-invalid");
}

TEST(Decide, ZeroInitialisedRuleNeverPermits)
{
    tg::CompiledPolicy p;
    p.rules.push_back(tg::CompiledRule{});  // kind deny, mode none, user 0
    p.rules.back().share = "*";
    tg::Decision d = tg::decide(p, {0, 0, {}}, "x", Mode::interact, kNoon);
    EXPECT_EQ(d.verdict, Verdict::deny);
    EXPECT_EQ(d.reason, "denied-by-rule");
}

tg::CompiledRule timed(int from, int to, std::uint8_t days = 0, std::int64_t until = 0)
{
    tg::CompiledRule r;
    r.share = "*";
    r.kind = tg::RuleKind::permit;
    r.mode = Mode::view;
    r.who_kind = tg::WhoKind::any;
    r.minute_from = from;
    r.minute_to = to;
    r.days = days;
    r.until = until;
    return r;
}

struct TimeCase {
    const char* what;
    tg::CompiledRule rule;
    std::time_t now;
    bool holds;
};

TEST(RuleTime, EdgesOfHoursDaysAndUntil)
{
    const std::uint8_t mon_fri = 0b0111110;
    const std::time_t until = utc(2025, 6, 6, 18, 30);
    const TimeCase cases[] = {
        {"no conditions", timed(-1, -1), kNoon, true},
        {"09:00 at from", timed(540, 1020), utc(2025, 6, 6, 9, 0, 0), true},
        {"08:59:59 before from", timed(540, 1020), utc(2025, 6, 6, 8, 59, 59), false},
        {"16:59:59 before to", timed(540, 1020), utc(2025, 6, 6, 16, 59, 59), true},
        {"17:00 at to", timed(540, 1020), utc(2025, 6, 6, 17, 0, 0), false},
        {"22-06: 23:59", timed(1320, 360), utc(2025, 6, 6, 23, 59), true},
        {"22-06: 22:00", timed(1320, 360), utc(2025, 6, 6, 22, 0), true},
        {"22-06: 21:59:59", timed(1320, 360), utc(2025, 6, 6, 21, 59, 59), false},
        {"22-06: midnight", timed(1320, 360), utc(2025, 6, 7, 0, 0), true},
        {"22-06: 05:59:59", timed(1320, 360), utc(2025, 6, 7, 5, 59, 59), true},
        {"22-06: 06:00", timed(1320, 360), utc(2025, 6, 7, 6, 0), false},
        {"22-06: noon", timed(1320, 360), kNoon, false},
        {"00:00-24:00 at 00:00", timed(0, 1440), utc(2025, 6, 6, 0, 0), true},
        {"00:00-24:00 at 23:59:59", timed(0, 1440), utc(2025, 6, 6, 23, 59, 59), true},
        {"12:00-24:00 at 23:59:59", timed(720, 1440), utc(2025, 6, 6, 23, 59, 59), true},
        {"12:00-24:00 at 00:00", timed(720, 1440), utc(2025, 6, 7, 0, 0), false},
        {"22:00-00:00 at 23:59", timed(1320, 0), utc(2025, 6, 6, 23, 59), true},
        {"22:00-00:00 at 00:00", timed(1320, 0), utc(2025, 6, 7, 0, 0), false},
        {"mon-fri: Friday 23:59:59", timed(-1, -1, mon_fri), utc(2025, 6, 6, 23, 59, 59), true},
        {"mon-fri: Saturday 00:00", timed(-1, -1, mon_fri), utc(2025, 6, 7, 0, 0), false},
        {"mon-fri: Sunday 23:59:59", timed(-1, -1, mon_fri), utc(2025, 6, 8, 23, 59, 59), false},
        {"mon-fri: Monday 00:00", timed(-1, -1, mon_fri), utc(2025, 6, 9, 0, 0), true},
        {"sun only (bit 0)", timed(-1, -1, 0b0000001), utc(2025, 6, 8, 12, 0), true},
        {"sat only (bit 6)", timed(-1, -1, 0b1000000), utc(2025, 6, 7, 12, 0), true},
        {"fri 22-06 on Saturday 01:00: the day of now", timed(1320, 360, 0b0100000), utc(2025, 6, 7, 1, 0), false},
        {"fri 22-06 on Friday 01:00", timed(1320, 360, 0b0100000), utc(2025, 6, 6, 1, 0), true},
        {"until: one second before", timed(-1, -1, 0, until), until - 1, true},
        {"until: at", timed(-1, -1, 0, until), until, false},
        {"until: one second after", timed(-1, -1, 0, until), until + 1, false},
        {"until -1 (the epoch)", timed(-1, -1, 0, -1), kNoon, false},
        {"all three hold", timed(540, 1020, mon_fri, until), kNoon, true},
        {"all but until", timed(540, 1020, mon_fri, until), until + 60, false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(tg::rule_time_holds(c.rule, c.now), c.holds) << c.what;
}

TEST(RuleTime, FollowsLocalTimeNotUtc)
{
    ::setenv("TZ", "Asia/Kolkata", 1);  // UTC+05:30, no DST
    ::tzset();
    // 09:00 in Kolkata is 03:30 UTC
    bool at_nine = tg::rule_time_holds(timed(540, 1020), utc(2025, 6, 6, 3, 30));
    bool before = tg::rule_time_holds(timed(540, 1020), utc(2025, 6, 6, 3, 29));
    std::int64_t epoch = 0;
    bool parsed = tg::policy_parse_local_time("2025-06-06T09:00", epoch);
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    EXPECT_TRUE(at_nine);
    EXPECT_FALSE(before);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(epoch, utc(2025, 6, 6, 3, 30));
}

struct ReasonCase {
    const char* what;
    std::string rules;
    std::string reason;
    unsigned rule_line;
};

TEST(Decide, ExpiredBeatsOutsideHoursBeatsNoRule)
{
    const std::string head = "share ops owner u1000\n";  // line 1
    const ReasonCase cases[] = {
        {"only outside hours", "permit view u7 on ops hours 09:00-10:00\n", "outside-hours", 2},
        {"only wrong day", "permit view u7 on ops days sat-sun\n", "outside-hours", 2},
        {"only expired", "permit view u7 on ops until 2025-06-06T11:59\n", "expired", 2},
        {"expired after outside-hours", "permit view u7 on ops hours 09:00-10:00\n"
                                        "permit view u7 on ops until 2025-06-01T00:00\n",
         "expired", 3},
        {"expired and outside hours in one rule",
         "permit view u7 on ops hours 09:00-10:00 until 2025-06-01T00:00\n", "expired", 2},
        {"first expired is reported", "permit view u7 on ops until 2025-06-01T00:00\n"
                                      "permit view u7 on * until 2025-06-02T00:00\n",
         "expired", 2},
        {"not yet expired", "permit interact u7 on ops until 2025-06-06T12:01\n", "permitted", 2},
        {"a holding permit beats an expired one", "permit interact u7 on ops until 2025-06-01T00:00\n"
                                                  "permit view u7 on ops\n",
         "permitted", 3},
        {"deny beats an expired permit", "permit view u7 on ops until 2025-06-01T00:00\n"
                                         "deny u7 on ops\n",
         "denied-by-rule", 3},
        {"another user's expired permit", "permit view u8 on ops until 2025-06-01T00:00\n", "no-rule", 0},
        {"another share's permit outside hours", "share web owner u1000\n"
                                                 "permit view u7 on web hours 09:00-10:00\n",
         "no-rule", 0},
    };
    for (const auto& c : cases) {
        tg::CompiledPolicy p = compile(head + c.rules);
        ASSERT_EQ(p.invalid, "") << c.what;
        tg::Decision d = tg::decide(p, {7, 100, {}}, "ops", Mode::interact, kNoon);
        EXPECT_EQ(d.reason, c.reason) << c.what;
        EXPECT_EQ(d.verdict == Verdict::allow, c.reason == "permitted") << c.what;
        if (c.rule_line == 0) {
            EXPECT_EQ(d.rule, nullptr) << c.what;
        } else {
            ASSERT_NE(d.rule, nullptr) << c.what;
            EXPECT_EQ(d.rule->line, c.rule_line) << c.what;
        }
    }
}

TEST(Decide, FilteredParseDecidesTheSameAsTheFullPolicy)
{
    tg::CompiledPolicy full = compile(kTable);
    std::string text = tg::compiled_serialize(full);
    const tg::Caller callers[] = {{1003, 2000, {}}, {1004, 100, {}}, {4000, 100, {2001}}, {1000, 1, {}}};
    for (const tg::Caller& who : callers) {
        for (const char* share : {"ops", "web", "empty", "ghost"}) {
            auto part = tg::compiled_parse(text, std::string_view(share), who.uid);
            ASSERT_TRUE(part.has_value());
            tg::Decision a = tg::decide(full, who, share, Mode::interact, kNoon);
            tg::Decision b = tg::decide(*part, who, share, Mode::interact, kNoon);
            EXPECT_EQ(a.verdict, b.verdict) << who.uid << " " << share;
            EXPECT_EQ(a.mode, b.mode) << who.uid << " " << share;
            EXPECT_EQ(a.reason, b.reason) << who.uid << " " << share;
            EXPECT_EQ(a.rule == nullptr, b.rule == nullptr) << who.uid << " " << share;
            if (a.rule != nullptr && b.rule != nullptr) {
                EXPECT_EQ(a.rule->line, b.rule->line) << who.uid << " " << share;
            }
        }
    }
}

}  // namespace
