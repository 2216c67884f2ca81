// `tmuxguard grant` and `tmuxguard revoke`: time-bound grants written as
// policy drop-ins and applied with reload, judged by what an admin and a
// guest notice: the exact output and exit status, the drop-in on disk, the
// wrapper's decision, the server's access list, an attached guest detached,
// and the decision records. The clauses named are those of cli/grant.cpp
// ("grant N") and cli/grant_file.hpp ("file N").
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

constexpr const char* kMarker =
    "# tmuxguard grant: written by 'tmuxguard grant', removed by 'tmuxguard revoke'; do not edit";
constexpr const char* kMinuteNote = ": until has minute resolution and is rounded down";

// Local time "YYYY-MM-DDTHH:MM" (seconds dropped) of `t`.
std::string stamp_of(std::time_t t)
{
    struct tm tm {};
    localtime_r(&t, &tm);
    char buf[32];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M", &tm);
    return std::string(buf, n);
}

// The instant a local "YYYY-MM-DDTHH:MM" names (mktime decides DST), -1 if malformed.
std::time_t stamp_epoch(const std::string& stamp, const char* format = "%Y-%m-%dT%H:%M")
{
    struct tm tm {};
    const char* end = strptime(stamp.c_str(), format, &tm);
    if (end == nullptr || *end != '\0')
        return -1;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

// Every entry of policy.d, sorted (temporary files included).
std::set<std::string> dropin_entries()
{
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(tg::paths::policy_dir, ec))
        out.insert(e.path().filename().string());
    return out;
}

// The inode of a file, 0 when absent.
ino_t inode_of(const std::string& path)
{
    struct stat st {};
    return lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// What lies between `head` and `tail` when `s` is exactly head + X + tail.
// (No std::regex: g++ 12 warns inside <regex> in the sanitizer build.)
std::optional<std::string> between(const std::string& s, const std::string& head,
                                   const std::string& tail)
{
    if (s.size() < head.size() + tail.size() || !s.starts_with(head) || !s.ends_with(tail))
        return std::nullopt;
    return s.substr(head.size(), s.size() - head.size() - tail.size());
}

// Whether `s` is non-empty and made only of characters in `set`.
bool only_of(const std::string& s, std::string_view set)
{
    return !s.empty() && s.find_first_not_of(set) == std::string::npos;
}

// The whole grant file grant would write at `at` (local time, seconds).
std::vector<std::string> grant_text(const std::string& granted_at, const std::string& dur,
                                    const std::string& mode, const std::string& user,
                                    const std::string& share, const std::string& until)
{
    return {kMarker, "# granted by uid 0 at " + granted_at + " for " + dur,
            "permit " + mode + " " + user + " on " + share + " until " + until};
}

}  // namespace

class GrantE2E : public E2E {
protected:
    // policy.d/grant-SHARE+USER.conf
    static std::string grant_path(const Share& s, const Account& a)
    {
        return std::string(tg::paths::policy_dir) + "/" + grant_name(s, a);
    }
    static std::string grant_name(const Share& s, const Account& a)
    {
        return "grant-" + s.name + "+" + a.name + ".conf";
    }

    // `server-access -l` by the owner, without the owner's own line.
    std::string access_list(const Share& s)
    {
        RunResult r = owner_tmux(s, {"server-access", "-l"});
        EXPECT_EQ(r.status, 0) << r.both();
        std::string guests;
        for (const auto& line : split_lines(r.out)) {
            if (line != s.owner->name + " (W)")
                guests += line + "\n";
        }
        return guests;
    }

    // Runs a grant, checks the "granted" line (and the minute note, when
    // present) and returns the until it names; "" (with a failure) otherwise.
    // `sync_lines` are the lines reload prints before it.
    std::string grant_ok(const Account& who, const std::string& mode, const Share& s,
                         const std::string& dur, long seconds,
                         const std::vector<std::string>& sync_lines, const std::string& replaced = {})
    {
        const std::time_t before = std::time(nullptr);
        RunResult r = cli_run({"grant", who.name, mode, s.name, "--for", dur});
        const std::time_t after = std::time(nullptr);
        EXPECT_EQ(r.status, 0) << r.both();
        EXPECT_EQ(r.err, "") << r.both();
        std::vector<std::string> lines = split_lines(r.out);
        if (lines.size() < sync_lines.size() + 1 || lines.size() > sync_lines.size() + 2) {
            ADD_FAILURE() << "unexpected output:\n" << r.both();
            return {};
        }
        for (std::size_t i = 0; i < sync_lines.size(); ++i)
            EXPECT_EQ(lines[i], sync_lines[i]) << r.both();
        // grant 2: the end is the start of the minute in which now+DURATION falls.
        const std::set<std::string> ok = {stamp_of(before + seconds), stamp_of(after + seconds)};
        const std::string& granted = lines[sync_lines.size()];
        std::optional<std::string> end =
            between(granted, "granted " + mode + " on " + s.name + " to " + who.name + " until ",
                    " (" + grant_path(s, who) + replaced + ")");
        if (!end || !ok.contains(*end)) {
            ADD_FAILURE() << "granted line: " << granted << "\nwanted until one of " << *ok.begin()
                          << ", " << *ok.rbegin() << "\n" << r.both();
            return {};
        }
        const std::string until = *end;
        // The grant ran at some second in [before, after].
        const long lasts_max = stamp_epoch(until) - before;
        const long lasts_min = stamp_epoch(until) - after;
        EXPECT_LE(lasts_min, seconds) << "the grant lasts longer than asked";
        EXPECT_GT(lasts_max, seconds - 60) << "the grant was cut by more than a minute";
        if (lines.size() == sync_lines.size() + 2) {
            std::optional<std::string> lasts =
                between(lines.back(), "ends in ", ", not " + dur + kMinuteNote);
            EXPECT_TRUE(lasts && only_of(*lasts, "0123456789hms")) << lines.back();
        } else {
            EXPECT_TRUE(lasts_min <= seconds && seconds <= lasts_max)
                << "no note although the grant is shorter than asked";
        }
        return until;
    }

    // The grant file is exactly what grant writes, root 0644, and alone in
    // policy.d with no temporary file left behind (file 5).
    void expect_grant_file(const Share& s, const Account& who, const std::string& mode,
                           const std::string& dur, const std::string& until,
                           std::time_t before, std::time_t after)
    {
        const std::string path = grant_path(s, who);
        struct stat st {};
        ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
        EXPECT_TRUE(S_ISREG(st.st_mode));
        EXPECT_EQ(st.st_mode & 07777, 0644u);
        EXPECT_EQ(st.st_uid, 0u);
        EXPECT_EQ(st.st_gid, 0u);
        std::vector<std::string> lines = split_lines(file_read(path));
        ASSERT_EQ(lines.size(), 3u) << file_read(path);
        // "YYYY-MM-DDTHH:MM:SS+ZZZZ", within the run of the command.
        std::optional<std::string> stamp = between(lines[1], "# granted by uid 0 at ", " for " + dur);
        ASSERT_TRUE(stamp && stamp->size() == 24 && ((*stamp)[19] == '+' || (*stamp)[19] == '-') &&
                    only_of(stamp->substr(20), "0123456789"))
            << lines[1];
        const std::time_t at = stamp_epoch(stamp->substr(0, 19), "%Y-%m-%dT%H:%M:%S");
        EXPECT_GE(at, before) << lines[1];
        EXPECT_LE(at, after) << lines[1];
        EXPECT_EQ(lines, grant_text(*stamp, dur, mode, who.name, s.name, until));
        EXPECT_EQ(file_read(path).back(), '\n');
        EXPECT_EQ(dropin_entries(), std::set<std::string>{grant_name(s, who)});
    }

    // The record of a grant or revoke after `mark`.
    std::optional<Record> change_record(LogMark mark, const std::string& event, const Account& who,
                                        const std::string& reason)
    {
        return log_wait_record(mark, [&](const Record& x) {
            return x.get("event") == event && x.get("uid") == std::to_string(who.uid) &&
                   x.get("reason") == reason;
        });
    }

    // The outer pane with its history: what the guest saw, including what
    // the tmux client printed after leaving its screen.
    static std::string outer_history(const Outer& o)
    {
        return proc_run({"tmux", "-L", o.name, "capture-pane", "-p", "-S", "-", "-t", "=outer:"}).out;
    }

    // Sleeps until at least `seconds` remain in the current minute.
    static void minute_room_wait(int seconds)
    {
        const std::time_t now = std::time(nullptr);
        struct tm tm {};
        localtime_r(&now, &tm);
        if (60 - tm.tm_sec < seconds)
            std::this_thread::sleep_for(std::chrono::seconds(60 - tm.tm_sec + 1));
    }
};

// grant 3, file 2, 5: a view grant writes exactly the drop-in, reload adds the
// user to the server's list as R, the wrapper allows view by the drop-in's
// rule, and the grant is logged with the drop-in's FILE:LINE.
TEST_F(GrantE2E, GrantViewAllowsTheWrapperAndListsTheUserOnTheServer)
{
    const Account& viewer = user("viewer");
    Share s = share_make("grant.view");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    expect_denied(attach_check(viewer, {s.name}), "no-rule");
    ASSERT_EQ(access_list(s), "");

    LogMark mark = log_mark();
    const std::time_t before = std::time(nullptr);
    const std::string until =
        grant_ok(viewer, "view", s, "1h", 3600,
                 {"sync " + s.name + ": +" + viewer.name + " view", "reloaded: 1 shares, 1 rules"});
    const std::time_t after = std::time(nullptr);
    ASSERT_FALSE(until.empty());
    ASSERT_NO_FATAL_FAILURE(expect_grant_file(s, viewer, "view", "1h", until, before, after));
    EXPECT_EQ(access_list(s), viewer.name + " (R)\n");

    auto rec = change_record(mark, "grant", viewer, "granted");
    ASSERT_NO_FATAL_FAILURE(expect_record(rec, "allow", "granted", "view"));
    EXPECT_EQ(rec->get("share"), s.name) << rec->line;
    EXPECT_EQ(rec->get("rule"), grant_path(s, viewer) + ":3") << rec->line;
    EXPECT_EQ(rec->get("detail"), "until " + until + " by uid 0") << rec->line;
    EXPECT_EQ(rec->get("owner_uid"), std::to_string(s.owner->uid)) << rec->line;
    EXPECT_EQ(rec->get("socket"), s.socket) << rec->line;

    mark = log_mark();
    RunResult r = attach_check(viewer, {s.name});
    expect_allowed(r, "view");
    auto check = log_record_of(mark, r.pid);
    ASSERT_NO_FATAL_FAILURE(expect_record(check, "allow", "permitted", "view"));
    EXPECT_EQ(check->get("rule"), grant_path(s, viewer) + ":3") << check->line;
    RunResult explain = cli_run({"explain", viewer.name, s.name});
    EXPECT_EQ(explain.out, "allow view (permitted by " + grant_path(s, viewer) + ":3)\n");
}

// grant 3: a second grant for the same pair replaces the first (one file,
// "replaced"), and interact puts the user on the list as W.
TEST_F(GrantE2E, SecondGrantReplacesTheFirstAndInteractWrites)
{
    const Account& viewer = user("viewer");
    Share s = share_make("grant.again");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string first =
        grant_ok(viewer, "view", s, "1h", 3600,
                 {"sync " + s.name + ": +" + viewer.name + " view", "reloaded: 1 shares, 1 rules"});
    ASSERT_FALSE(first.empty());

    const std::time_t before = std::time(nullptr);
    const std::string second = grant_ok(
        viewer, "interact", s, "2h", 7200,
        {"sync " + s.name + ": ~" + viewer.name + " interact (was view)", "reloaded: 1 shares, 1 rules"},
        ", replaced view until " + first);
    const std::time_t after = std::time(nullptr);
    ASSERT_FALSE(second.empty());
    ASSERT_NO_FATAL_FAILURE(expect_grant_file(s, viewer, "interact", "2h", second, before, after));
    EXPECT_EQ(access_list(s), viewer.name + " (W)\n");
    expect_allowed(attach_check(viewer, {s.name}), "interact");
    expect_allowed(attach_check(viewer, {"-r", s.name}), "view");
}

// Issue 5 ("an expired grant is refused by the wrapper at once and removed
// from the server by sync"): a grant that expires while the guest is
// attached. tmux knows no time: the guest stays attached past the until; a
// new attach is refused at once (expired); `tmuxguard sync` (the timer's
// job) takes the guest off the server's list, which detaches him, and logs
// a revoke with reason expired.
TEST_F(GrantE2E, GrantThatExpiresWhileAttachedIsRefusedAndSyncDetaches)
{
    const Account& viewer = user("viewer");
    Share s = share_make("grant.expire");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    minute_room_wait(15);  // the grant ends at the next minute: room to attach
    const std::string until =
        grant_ok(viewer, "view", s, "1m", 60,
                 {"sync " + s.name + ": +" + viewer.name + " view", "reloaded: 1 shares, 1 rules"});
    ASSERT_FALSE(until.empty());
    const std::time_t end = stamp_epoch(until);

    Outer o = outer_attach(viewer, {s.name});
    ASSERT_TRUE(wait_until([&] { return share_has_client(s, viewer.uid); }))
        << "the viewer never attached:\n" << outer_history(o);
    ASSERT_LT(std::time(nullptr), end) << "attached only after the grant ended";
    expect_allowed(attach_check(viewer, {s.name}), "view");

    std::this_thread::sleep_for(std::chrono::seconds(end - std::time(nullptr) + 1));
    ASSERT_GE(std::time(nullptr), end);
    EXPECT_TRUE(share_has_client(s, viewer.uid)) << "something else detached the guest";
    LogMark mark = log_mark();
    RunResult denied = attach_check(viewer, {s.name});
    expect_denied(denied, "expired");
    auto rec = log_record_of(mark, denied.pid);
    ASSERT_NO_FATAL_FAILURE(expect_record(rec, "deny", "expired"));
    EXPECT_EQ(rec->get("rule"), grant_path(s, viewer) + ":3") << rec->line;

    mark = log_mark();
    RunResult r = cli_run({"sync"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "sync " + s.name + ": -" + viewer.name + " revoked\n") << r.both();
    EXPECT_TRUE(wait_until([&] { return !share_has_client(s, viewer.uid); }))
        << "the expired guest is still attached";
    EXPECT_TRUE(wait_until([&] { return outer_dead(o); }))
        << "the guest's attach is still running:\n" << outer_capture(o);
    EXPECT_TRUE(contains(outer_history(o), "[access not allowed]")) << outer_history(o);
    EXPECT_EQ(access_list(s), "");
    auto revoke = change_record(mark, "revoke", viewer, "expired");
    ASSERT_NO_FATAL_FAILURE(expect_record(revoke, "deny", "expired"));
    EXPECT_EQ(revoke->get("share"), s.name) << revoke->line;
    EXPECT_EQ(revoke->get("rule"), grant_path(s, viewer) + ":3") << revoke->line;
    EXPECT_EQ(revoke->get("server_pid"), std::to_string(s.server_pid)) << revoke->line;
}

// grant 3: revoke removes the drop-in; reload's sync takes the user
// off the list, which detaches him; both records are written.
TEST_F(GrantE2E, RevokeWhileAttachedDetachesAndLogs)
{
    const Account& viewer = user("viewer");
    Share s = share_make("grant.revoke");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string until =
        grant_ok(viewer, "view", s, "1h", 3600,
                 {"sync " + s.name + ": +" + viewer.name + " view", "reloaded: 1 shares, 1 rules"});
    ASSERT_FALSE(until.empty());
    Outer o = outer_attach(viewer, {s.name});
    ASSERT_TRUE(wait_until([&] { return share_has_client(s, viewer.uid); }))
        << "the viewer never attached:\n" << outer_capture(o);

    LogMark mark = log_mark();
    RunResult r = cli_run({"revoke", viewer.name, s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "sync " + s.name + ": -" + viewer.name + " revoked\nreloaded: 1 shares, 0 rules\n"
                     "revoked view on " + s.name + " from " + viewer.name + " (" +
                         grant_path(s, viewer) + " removed)\n")
        << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    EXPECT_TRUE(wait_until([&] { return !share_has_client(s, viewer.uid); }))
        << "the revoked guest is still attached";
    EXPECT_TRUE(wait_until([&] { return outer_dead(o); }))
        << "the guest's attach is still running:\n" << outer_capture(o);
    EXPECT_TRUE(contains(outer_history(o), "[access not allowed]")) << outer_history(o);
    EXPECT_FALSE(fs::exists(grant_path(s, viewer)));
    EXPECT_EQ(dropin_entries(), std::set<std::string>{});
    EXPECT_EQ(access_list(s), "");

    auto rec = change_record(mark, "revoke", viewer, "revoked");
    ASSERT_NO_FATAL_FAILURE(expect_record(rec, "deny", "revoked", "none"));
    EXPECT_EQ(rec->get("share"), s.name) << rec->line;
    EXPECT_EQ(rec->get("rule"), grant_path(s, viewer) + ":3") << rec->line;
    EXPECT_EQ(rec->get("detail"), "grant of view until " + until + " removed by uid 0") << rec->line;
    auto synced = change_record(mark, "revoke", viewer, "no-rule");
    ASSERT_NO_FATAL_FAILURE(expect_record(synced, "deny", "no-rule"));
    EXPECT_EQ(synced->get("server_pid"), std::to_string(s.server_pid)) << synced->line;
    expect_denied(attach_check(viewer, {s.name}), "no-rule");
}

// grant 3: revoke removes only grants; with none it exits 1, and a rule that
// still lets the user in is named, with or without a grant to remove.
TEST_F(GrantE2E, RevokeWithoutGrantExits1AndNamesRulesThatStillAllow)
{
    const Account& viewer = user("viewer");
    const Account& typist = user("typist");
    Share s = share_make("grant.other");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string still = "tmuxguard: revoke: warning: " + viewer.name + " still has view on " +
                              s.name + " by " + policy_rule_source(1) + "\n";

    RunResult r = cli_run({"revoke", typist.name, s.name});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.out, "") << r.both();
    EXPECT_EQ(r.err, "tmuxguard: revoke: no grant for " + typist.name + " on " + s.name + "\n");

    r = cli_run({"revoke", viewer.name, s.name});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.out, "") << r.both();
    EXPECT_EQ(r.err, "tmuxguard: revoke: no grant for " + viewer.name + " on " + s.name + "\n" + still);
    EXPECT_EQ(access_list(s), viewer.name + " (R)\n");

    ASSERT_FALSE(grant_ok(viewer, "interact", s, "1h", 3600,
                          {"sync " + s.name + ": ~" + viewer.name + " interact (was view)",
                           "reloaded: 1 shares, 2 rules"})
                     .empty());
    r = cli_run({"revoke", viewer.name, s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "sync " + s.name + ": ~" + viewer.name + " view (was interact)\n"
                     "reloaded: 1 shares, 1 rules\nrevoked interact on " + s.name + " from " +
                         viewer.name + " (" + grant_path(s, viewer) + " removed)\n")
        << r.both();
    EXPECT_EQ(r.err, still) << r.both();
    EXPECT_EQ(access_list(s), viewer.name + " (R)\n");
}

// A grant outlives its account (userdel): the grant file then names a user
// the policy cannot resolve. revoke removes it all the same, and its record
// has no uid (null) and says the user has no account; it never names the
// uid of the root who ran it. The reload record does name root.
TEST_F(GrantE2E, RevokeForAnAccountThatIsGoneLogsNoUid)
{
    const Account& viewer = user("viewer");
    Share s = share_make("grant.gone");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    const std::string until = grant_ok(viewer, "view", s, "1h", 3600,
                                       {s.name + ": not running", "reloaded: 1 shares, 1 rules"});
    ASSERT_FALSE(until.empty());
    // The viewer's grant, as if made for an account deleted since.
    const std::string gone = World::get().unique_name("gone");
    ASSERT_EQ(getpwnam(gone.c_str()), nullptr) << gone;
    std::string text = file_read(grant_path(s, viewer));
    const std::string permit = "permit view " + viewer.name + " on ";
    ASSERT_NE(text.find(permit), std::string::npos) << text;
    text.replace(text.find(permit), permit.size(), "permit view " + gone + " on ");
    const std::string gone_path =
        std::string(tg::paths::policy_dir) + "/grant-" + s.name + "+" + gone + ".conf";
    {
        std::ofstream out(gone_path);
        out << text;
        ASSERT_TRUE(out.good()) << gone_path;
    }
    ASSERT_EQ(chmod(gone_path.c_str(), 0644), 0);
    ASSERT_TRUE(fs::remove(grant_path(s, viewer)));
    RunResult r = cli_run({"check-policy"});
    ASSERT_EQ(r.status, 2) << "the orphaned grant should make the policy invalid\n" << r.both();

    LogMark mark = log_mark();
    r = cli_run({"revoke", gone, s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, s.name + ": not running\nreloaded: 1 shares, 0 rules\nrevoked view on " + s.name +
                         " from " + gone + " (" + gone_path + " removed)\n")
        << r.both();
    EXPECT_FALSE(fs::exists(gone_path));
    EXPECT_EQ(dropin_entries(), std::set<std::string>{});
    std::optional<Record> rec = log_wait_record(
        mark, [](const Record& x) { return x.get("event") == "revoke" && x.get("reason") == "revoked"; });
    ASSERT_TRUE(rec.has_value()) << "no revoke record";
    EXPECT_EQ(rec->get("uid"), "null") << rec->line;
    EXPECT_EQ(rec->get("share"), s.name) << rec->line;
    EXPECT_EQ(rec->get("detail"),
              "grant of view until " + until + " removed by uid 0 (user " + gone + " has no account)")
        << rec->line;
    std::optional<Record> reload =
        log_wait_record(mark, [](const Record& x) { return x.get("event") == "reload"; });
    ASSERT_TRUE(reload.has_value()) << "no reload record";
    EXPECT_EQ(reload->get("uid"), "0") << reload->line;
}

// A deny rule wins over any permit: the grant is written, and grant warns
// that it changes nothing for a denied user; the wrapper still refuses.
TEST_F(GrantE2E, GrantUnderADenyRuleWarns)
{
    const Account& denied = user("denied");
    Share s = share_make("grant.deny");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_deny(denied.name, s)}));
    RunResult r = cli_run({"grant", denied.name, "view", s.name, "--for", "1h"});
    EXPECT_EQ(r.status, 0) << r.both();
    std::vector<std::string> lines = split_lines(r.out);
    ASSERT_GE(lines.size(), 3u) << r.both();
    EXPECT_EQ(lines[0], s.name + ": not running") << r.both();
    EXPECT_EQ(lines[1], "reloaded: 1 shares, 2 rules") << r.both();
    EXPECT_TRUE(lines[2].starts_with("granted view on " + s.name + " to " + denied.name)) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: grant: warning: " + denied.name + " is still refused on " + s.name +
                         " (denied-by-rule: " + policy_rule_source(1) +
                         "): a deny rule wins over a grant\n")
        << r.both();
    expect_denied(attach_check(denied, {s.name}), "denied-by-rule");
}

// grant 1: every usage error exits 2 with one clear line and writes nothing
// (no file in policy.d, no reload); a non-root caller exits 1.
TEST_F(GrantE2E, UsageErrorsAndNonRootWriteNothing)
{
    const Account& viewer = user("viewer");
    const std::string ghost = World::get().tag() + "-ghost";
    Share s = share_make("grant.usage");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    const ino_t compiled = inode_of(tg::paths::compiled_policy);
    ASSERT_NE(compiled, 0u);
    struct Row {
        std::vector<std::string> args;
        std::string err;
    };
    const std::string pre = "tmuxguard: grant: ";
    const std::vector<Row> rows = {
        {{"grant", ghost, "view", s.name, "--for", "1h"}, pre + "unknown user '" + ghost + "'"},
        {{"grant", "bad/name", "view", s.name, "--for", "1h"}, pre + "unknown user 'bad/name'"},
        {{"grant", viewer.name, "view", "grant.nosuch", "--for", "1h"},
         pre + "unknown share 'grant.nosuch' (the policy defines no such share)"},
        {{"grant", viewer.name, "view", s.name, "--for", "5x"},
         pre + "invalid duration '5x': unknown unit (want e.g. 90s, 30m, 1h30m, 2d)"},
        {{"grant", viewer.name, "view", s.name, "--for=30s"},
         pre + "duration '30s' is shorter than a minute, the resolution of the policy's until"},
        {{"grant", viewer.name, "view", s.name},
         pre + "--for DURATION is required (a grant always ends; e.g. --for 2h)"},
        {{"grant", viewer.name, "watch", s.name, "--for", "1h"},
         pre + "mode 'watch' is not view or interact"},
        {{"grant", viewer.name, "view", "--for", "1h"},
         pre + "usage: tmuxguard grant USER view|interact SHARE --for DURATION"},
        {{"grant", s.owner->name, "view", s.name, "--for", "1h"},
         pre + s.owner->name + " owns " + s.name + " and always has interact on it"},
        {{"revoke", viewer.name}, "tmuxguard: revoke: usage: tmuxguard revoke USER SHARE"},
        {{"revoke", viewer.name, "bad/share"}, "tmuxguard: revoke: invalid share name 'bad/share'"},
    };
    for (const Row& row : rows) {
        SCOPED_TRACE(row.args[0] + " " + row.args[1] + " ... " + row.args.back());
        RunResult r = cli_run(row.args);
        EXPECT_EQ(r.status, 2) << r.both();
        EXPECT_EQ(r.out, "") << r.both();
        EXPECT_EQ(r.err, row.err + "\n") << r.both();
        EXPECT_EQ(dropin_entries(), std::set<std::string>{});
        EXPECT_EQ(inode_of(tg::paths::compiled_policy), compiled) << "a reload ran";
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"grant", viewer.name, "view", s.name, "--for", "1h"},
          std::vector<std::string>{"revoke", viewer.name, s.name}}) {
        SCOPED_TRACE(args[0] + " as " + viewer.name);
        std::vector<std::string> argv = {path_cli()};
        argv.insert(argv.end(), args.begin(), args.end());
        RunResult r = proc_run_as(viewer.name, argv);
        EXPECT_EQ(r.status, 1) << r.both();
        EXPECT_EQ(r.out, "") << r.both();
        EXPECT_EQ(r.err, "tmuxguard: " + args[0] + ": must be run as root\n") << r.both();
        EXPECT_EQ(dropin_entries(), std::set<std::string>{});
        EXPECT_EQ(inode_of(tg::paths::compiled_policy), compiled) << "a reload ran";
    }
}

// grant 1: an invalid current policy is reported with its errors, exit 2,
// and nothing is written.
TEST_F(GrantE2E, InvalidCurrentPolicyIsReportedAndNothingWritten)
{
    const std::string ghost = World::get().tag() + "-ghost";
    Share s = share_make("grant.invalid");
    ASSERT_NO_FATAL_FAILURE(policy_write({s.policy_line(), rule_permit("view", ghost, s)}));
    RunResult r = cli_run({"grant", user("viewer").name, "view", s.name, "--for", "1h"});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.out, "") << r.both();
    EXPECT_EQ(r.err, "tmuxguard: grant: policy invalid: " + policy_rule_source(1) +
                         ": unknown user '" + ghost + "'\n"
                         "tmuxguard: grant: the current policy is invalid: fix it first (nothing was written)\n")
        << r.both();
    EXPECT_EQ(dropin_entries(), std::set<std::string>{});
}

// grant 4: a grant file edited by hand to also define the share that a rule
// in policy.conf names (against its marker's word): replacing or removing it
// would drop the share, reload finds the result invalid, the file is put
// back byte for byte, the policy reloaded, exit 2, nothing logged as done;
// the old grant still works.
TEST_F(GrantE2E, InvalidResultingPolicyIsRestored)
{
    const Account& viewer = user("viewer");
    Share s = share_make("grant.restore");
    const std::string until = local_time_format(90, TimeFormat::stamp);
    std::vector<std::string> edited =
        grant_text("2030-01-07T09:00:00+0000", "2h", "view", viewer.name, s.name, until);
    edited.push_back(s.policy_line());
    ASSERT_NO_FATAL_FAILURE(policy_dropin_write(grant_name(s, viewer), edited));
    ASSERT_NO_FATAL_FAILURE(policy_install({rule_permit("view", user("typist").name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string path = grant_path(s, viewer);
    const std::string before = file_read(path);
    expect_allowed(attach_check(viewer, {s.name}), "view");

    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"grant", viewer.name, "interact", s.name, "--for", "1h"},
          std::vector<std::string>{"revoke", viewer.name, s.name}}) {
        SCOPED_TRACE(args[0]);
        LogMark mark = log_mark();
        RunResult r = cli_run(args);
        EXPECT_EQ(r.status, 2) << r.both();
        EXPECT_TRUE(contains(r.out, policy_rule_source(0) + ": rule names undefined share '" +
                                        s.name + "'\n"))
            << r.both();
        EXPECT_TRUE(r.out.ends_with("sync " + s.name + ": in sync\nreloaded: 1 shares, 2 rules\n"))
            << "the restored policy was not reloaded\n" << r.both();
        EXPECT_TRUE(r.err.ends_with("tmuxguard: " + args[0] +
                                    ": the resulting policy is invalid (errors above): " + path +
                                    " put back as it was and the policy reloaded\n"))
            << r.both();
        EXPECT_EQ(file_read(path), before);
        EXPECT_EQ(dropin_entries(), std::set<std::string>{grant_name(s, viewer)});
        expect_allowed(attach_check(viewer, {s.name}), "view");
        const std::vector<std::string> listed = split_lines(access_list(s));
        EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()),
                  (std::set<std::string>{viewer.name + " (R)", user("typist").name + " (R)"}));
        for (const auto& line : log_lines_since(mark))
            EXPECT_FALSE(contains(line, "\"event\":\"" + args[0] + "\"")) << line;
    }
}

// file 3: a file at the grant's name that grant did not write (no marker)
// is neither replaced nor removed: exit 1, left alone.
TEST_F(GrantE2E, FileNotWrittenByGrantIsLeftAlone)
{
    const Account& viewer = user("viewer");
    Share s = share_make("grant.foreign");
    const std::vector<std::string> mine = {"# hand-written", rule_permit("view", viewer.name, s)};
    ASSERT_NO_FATAL_FAILURE(policy_dropin_write(grant_name(s, viewer), mine));
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    const std::string path = grant_path(s, viewer);
    const std::string before = file_read(path);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"grant", viewer.name, "interact", s.name, "--for", "1h"},
          std::vector<std::string>{"revoke", viewer.name, s.name}}) {
        SCOPED_TRACE(args[0]);
        RunResult r = cli_run(args);
        EXPECT_EQ(r.status, 1) << r.both();
        EXPECT_EQ(r.out, "") << r.both();
        EXPECT_EQ(r.err, "tmuxguard: " + args[0] + ": " + path +
                             " was not written by 'tmuxguard grant' (its first line is not the "
                             "marker of 'tmuxguard grant'): left alone\n")
            << r.both();
        EXPECT_EQ(file_read(path), before);
    }
}

// file 4: grant and revoke remove expired grant files of theirs (and only
// those: an expired hand-written rule and a live grant stay).
TEST_F(GrantE2E, ExpiredGrantFilesArePruned)
{
    const Account& viewer = user("viewer");
    const Account& typist = user("typist");
    const Account& member = user("member");
    const Account& nobody = user("nobody");
    Share s = share_make("grant.prune");
    const std::string past = local_time_format(-5, TimeFormat::stamp);
    const std::string future = local_time_format(120, TimeFormat::stamp);
    const std::string at = "2030-01-07T09:00:00+0000";
    ASSERT_NO_FATAL_FAILURE(policy_dropin_write(
        grant_name(s, typist), grant_text(at, "1m", "view", typist.name, s.name, past)));
    ASSERT_NO_FATAL_FAILURE(policy_dropin_write(
        grant_name(s, nobody), grant_text(at, "3h", "view", nobody.name, s.name, future)));
    ASSERT_NO_FATAL_FAILURE(policy_dropin_write(
        "hand.conf", {rule_permit("view", member.name, s, "until " + past)}));
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));

    RunResult r = cli_run({"grant", viewer.name, "view", s.name, "--for", "1h"});
    EXPECT_EQ(r.status, 0) << r.both();
    std::vector<std::string> lines = split_lines(r.out);
    ASSERT_GE(lines.size(), 1u) << r.both();
    EXPECT_EQ(lines[0], "pruned expired grant of view on " + s.name + " to " + typist.name +
                            " (until " + past + ", " + grant_path(s, typist) + ")")
        << r.both();
    EXPECT_EQ(dropin_entries(), (std::set<std::string>{grant_name(s, nobody), grant_name(s, viewer),
                                                       "hand.conf"}));

    ASSERT_NO_FATAL_FAILURE(policy_dropin_write(
        grant_name(s, typist), grant_text(at, "1m", "interact", typist.name, s.name, past)));
    r = cli_run({"revoke", viewer.name, s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    lines = split_lines(r.out);
    ASSERT_GE(lines.size(), 1u) << r.both();
    EXPECT_EQ(lines[0], "pruned expired grant of interact on " + s.name + " to " + typist.name +
                            " (until " + past + ", " + grant_path(s, typist) + ")")
        << r.both();
    EXPECT_EQ(dropin_entries(), (std::set<std::string>{grant_name(s, nobody), "hand.conf"}));
    r = cli_run({"explain", nobody.name, s.name});
    EXPECT_EQ(r.out, "allow view (permitted by " + grant_path(s, nobody) + ":3)\n") << r.both();
}

}  // namespace tge2e
