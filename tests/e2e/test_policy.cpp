// A policy that cannot be trusted, or that does not parse, refuses everyone
// (even the owner), and `tmuxguard check-policy` says why.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace {

const std::string kDropin = "50-e2e.conf";

std::string dropin_path()
{
    return std::string(tg::paths::policy_dir) + "/" + kDropin;
}

// Whether some line of `text` starts with `prefix`.
bool has_line_starting(const std::string& text, const std::string& prefix)
{
    for (const auto& line : split_lines(text)) {
        if (line.rfind(prefix, 0) == 0)
            return true;
    }
    return false;
}

}  // namespace

// A policy file (or drop-in) writable by a non-root user: every attempt is
// refused with policy-unsafe, at once, without a reload.
TEST_F(E2E, PolicyWritableByAUserRefusesEveryone)
{
    struct Row {
        std::string label;
        std::string file;
        std::function<int(const std::string&)> alter;
    };
    const uid_t other = user("other").uid;
    const std::vector<Row> rows = {
        {"policy.conf o+w", tg::paths::policy_file,
         [](const std::string& f) { return chmod(f.c_str(), 0646); }},
        {"policy.conf g+w", tg::paths::policy_file,
         [](const std::string& f) { return chmod(f.c_str(), 0664); }},
        {"policy.conf owned by a user", tg::paths::policy_file,
         [other](const std::string& f) { return chown(f.c_str(), other, static_cast<gid_t>(-1)); }},
        {"drop-in o+w", dropin_path(), [](const std::string& f) { return chmod(f.c_str(), 0666); }},
    };
    Share s = share_make("pol.unsafe");
    const std::vector<std::string> body = {s.policy_line(),
                                           rule_permit("view", user("viewer").name, s)};
    ASSERT_NO_FATAL_FAILURE(policy_install(body));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    for (const auto& row : rows) {
        SCOPED_TRACE(row.label);
        ASSERT_NO_FATAL_FAILURE(
            policy_dropin_write(kDropin, {rule_permit("view", user("member").name, s)}));
        ASSERT_NO_FATAL_FAILURE(policy_install(body));
        expect_allowed(attach_check(user("viewer"), {s.name}), "view");
        ASSERT_EQ(row.alter(row.file), 0) << row.file;

        LogMark mark = log_mark();
        RunResult viewer = attach_check(user("viewer"), {s.name});
        expect_denied(viewer, "policy-unsafe");
        expect_record(log_record_of(mark, viewer.pid), "deny", "policy-unsafe");
        expect_denied(attach_check(*s.owner, {s.name}), "policy-unsafe");
        RunResult check = cli_run({"check-policy"});
        EXPECT_EQ(check.status, 2) << check.both();
        EXPECT_TRUE(contains(check.out + check.err, row.file)) << check.both();
        EXPECT_FALSE(has_line_starting(check.out + check.err, "policy OK")) << check.both();
    }
}

// A malformed line: check-policy prints FILE:LINE and exits 2; after a
// reload every attempt, even the owner's, is refused with policy-invalid.
TEST_F(E2E, MalformedPolicyRefusesEveryoneEvenTheOwner)
{
    const std::vector<std::string> bad_lines = {
        "permit sometimes " + user("viewer").name + " on pol.bad",
        "permit view " + user("viewer").name + " on pol.bad hours 25:00-26:00",
        "frobnicate the shares",
        "permit view " + World::get().tag() + "-nosuchuser on pol.bad",
        "permit view " + user("viewer").name + " on pol.undefined",
    };
    Share s = share_make("pol.bad");
    const std::vector<std::string> good = {s.policy_line(),
                                           rule_permit("view", user("viewer").name, s)};
    ASSERT_NO_FATAL_FAILURE(policy_install(good));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string copy = path_scratch() + "/copy.conf";
    for (const auto& bad : bad_lines) {
        SCOPED_TRACE(bad);
        std::vector<std::string> body = good;
        body.push_back(bad);
        ASSERT_NO_FATAL_FAILURE(policy_write(body));
        const std::string where = ":" + std::to_string(policy_body_line(2)) + ": ";
        RunResult check = cli_run({"check-policy"});
        EXPECT_EQ(check.status, 2) << check.both();
        EXPECT_TRUE(has_line_starting(check.out + check.err, tg::paths::policy_file + where))
            << check.both();
        std::filesystem::copy_file(tg::paths::policy_file, copy,
                                   std::filesystem::copy_options::overwrite_existing);
        check = cli_run({"check-policy", copy});
        EXPECT_EQ(check.status, 2) << check.both();
        EXPECT_TRUE(has_line_starting(check.out + check.err, copy + where)) << check.both();

        RunResult reload = cli_run({"reload"});
        EXPECT_EQ(reload.status, 2) << reload.both();
        LogMark mark = log_mark();
        RunResult owner = attach_check(*s.owner, {s.name});
        expect_denied(owner, "policy-invalid");
        expect_record(log_record_of(mark, owner.pid), "deny", "policy-invalid");
        expect_denied(attach_check(user("viewer"), {s.name}), "policy-invalid");
        expect_denied(attach_plain(user("viewer"), {s.name}), "policy-invalid");
    }
}

}  // namespace tge2e
