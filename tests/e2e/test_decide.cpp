// Decisions through the installed wrapper (`-n`): who is refused, with which
// reason, and what the decision record says.
#include "harness.hpp"

namespace tge2e {
namespace {

// The policy's name of the local weekday `minutes_from_now` ahead ("mon".."sun").
std::string day_name(long minutes_from_now)
{
    std::string d = local_time_format(minutes_from_now, TimeFormat::weekday);  // C locale: "Mon"
    for (char& c : d)
        c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return d;
}

}  // namespace

// No rule: refused; a share that does not exist gives the very same answer.
TEST_F(E2E, UserWithoutRuleIsDeniedAndMissingShareLooksTheSame)
{
    const Account& nobody = user("nobody");
    Share s = share_make("dec.norule");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("view", user("viewer").name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));

    LogMark mark = log_mark();
    RunResult existing = attach_check(nobody, {s.name});
    expect_denied(existing, "no-rule");
    RunResult missing = attach_check(nobody, {"dec.nosuchshare"});
    expect_denied(missing, "no-rule");
    EXPECT_EQ(existing.status, missing.status);
    EXPECT_EQ(existing.err, missing.err);
    expect_record(log_record_of(mark, existing.pid), "deny", "no-rule");
    auto rec = log_record_of(mark, missing.pid);
    expect_record(rec, "deny", "no-rule");
    if (rec) {
        EXPECT_EQ(rec->get("event"), "check") << rec->line;
        EXPECT_EQ(rec->get("uid"), std::to_string(nobody.uid)) << rec->line;
        EXPECT_EQ(rec->get("share"), "dec.nosuchshare") << rec->line;
    }
    RunResult plain = attach_plain(nobody, {s.name});
    expect_denied(plain, "no-rule");
    expect_record(log_record_of(mark, plain.pid), "deny", "no-rule");
    EXPECT_TRUE(share_clients(s).empty());
}

// A `deny` beats `permit view *`, and the record names the deny rule.
TEST_F(E2E, DenyRuleBeatsPermitForEveryone)
{
    const Account& denied = user("denied");
    Share s = share_make("dec.deny");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("view", "*", s), rule_deny(denied.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));

    LogMark mark = log_mark();
    RunResult r = attach_check(denied, {s.name});
    expect_denied(r, "denied-by-rule");
    auto rec = log_record_of(mark, r.pid);
    expect_record(rec, "deny", "denied-by-rule");
    if (rec) {
        EXPECT_EQ(rec->get("rule"), policy_rule_source(2)) << rec->line;
    }
    expect_denied(attach_plain(denied, {s.name}), "denied-by-rule");
    RunResult viewer = attach_check(user("viewer"), {s.name});
    expect_allowed(viewer, "view");
    rec = log_record_of(mark, viewer.pid);
    expect_record(rec, "allow", "permitted", "view");
    if (rec) {
        EXPECT_EQ(rec->get("rule"), policy_rule_source(1)) << rec->line;
    }
}

// `permit view :TEAM` admits a user who has TEAM only as a supplementary group.
TEST_F(E2E, GroupRuleAdmitsSupplementaryMember)
{
    Share s = share_make("dec.group");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("view", ":" + World::get().team_group(), s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));

    LogMark mark = log_mark();
    RunResult member = attach_check(user("member"), {s.name});
    expect_allowed(member, "view");
    auto rec = log_record_of(mark, member.pid);
    expect_record(rec, "allow", "permitted", "view");
    if (rec) {
        EXPECT_EQ(rec->get("rule"), policy_rule_source(1)) << rec->line;
    }
    expect_allowed(attach_check(user("member"), {"-r", s.name}), "view");
    expect_denied(attach_check(user("other"), {s.name}), "no-rule");
}

// The owner needs no rule: interact on his own share, view with -r.
TEST_F(E2E, OwnerInteractsWithoutRule)
{
    Share s = share_make("dec.owner");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    LogMark mark = log_mark();
    RunResult r = attach_check(*s.owner, {s.name});
    expect_allowed(r, "interact");
    expect_record(log_record_of(mark, r.pid), "allow", "owner", "interact");
    expect_allowed(attach_check(*s.owner, {"-r", s.name}), "view");
}

// `hours`, `days` and `until` outside their window refuse; inside they admit.
TEST_F(E2E, TimeConditionsOutsideTheirWindowAreRefused)
{
    struct Row {
        std::string label;
        std::string condition;
        std::string reason;  // empty: allowed (view)
    };
    const std::vector<Row> rows = {
        {"hours later today",
         "hours " + local_time_format(120, TimeFormat::hhmm) + "-" +
             local_time_format(180, TimeFormat::hhmm),
         "outside-hours"},
        {"hours around now",
         "hours " + local_time_format(-60, TimeFormat::hhmm) + "-" +
             local_time_format(60, TimeFormat::hhmm),
         ""},
        {"days not today", "days " + day_name(24 * 60), "outside-hours"},
        {"days today", "days " + day_name(0), ""},
        {"until yesterday", "until " + local_time_format(-24 * 60, TimeFormat::stamp), "expired"},
        {"until tomorrow", "until " + local_time_format(24 * 60, TimeFormat::stamp), ""},
    };
    const Account& viewer = user("viewer");
    Share s = share_make("dec.time");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    for (const auto& row : rows) {
        SCOPED_TRACE(row.label + ": " + row.condition);
        ASSERT_NO_FATAL_FAILURE(
            policy_install({s.policy_line(), rule_permit("view", viewer.name, s, row.condition)}));
        LogMark mark = log_mark();
        RunResult r = attach_check(viewer, {s.name});
        if (row.reason.empty()) {
            expect_allowed(r, "view");
            expect_record(log_record_of(mark, r.pid), "allow", "permitted", "view");
        } else {
            expect_denied(r, row.reason);
            expect_record(log_record_of(mark, r.pid), "deny", row.reason);
        }
    }
}

}  // namespace tge2e
