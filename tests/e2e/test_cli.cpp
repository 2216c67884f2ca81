// The `tmuxguard` CLI as an admin and an owner use it: explain,
// check-policy, serve, sync and reload, judged by their exit status, their
// exact output, the decision log and the state of the real tmux servers.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace {

// A fixed Monday in January: no DST change near it in any zone.
constexpr const char* kDay = "2030-01-07";

// "DAY" + "THH:MM", an --at value.
std::string at_time(const char* hhmm)
{
    return std::string(kDay) + "T" + hhmm;
}

// getfacl of `path`, without comments and blank lines (entries only).
std::string acl_entries(const std::string& path)
{
    RunResult r = proc_run({"getfacl", "-c", "-p", path});
    EXPECT_EQ(r.status, 0) << r.both();
    std::string out;
    for (const auto& line : split_lines(r.out)) {
        if (!line.empty() && line[0] != '#')
            out += line + "\n";
    }
    return out;
}

// The inode of a regular file, 0 when absent.
ino_t file_inode(const std::string& path)
{
    struct stat st {};
    return lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Writes a root-owned 0644 policy file at `path` (a new inode).
void policy_file_write(const std::string& path, const std::vector<std::string>& lines)
{
    std::remove(path.c_str());
    std::ofstream f(path);
    for (const auto& line : lines)
        f << line << "\n";
    f.close();
    ASSERT_TRUE(f.good()) << path;
    ASSERT_EQ(chown(path.c_str(), 0, 0), 0) << path;
    ASSERT_EQ(chmod(path.c_str(), 0644), 0) << path;
}

// Whether `line` is one of the lines of `text`.
bool has_line(const std::string& text, const std::string& line)
{
    for (const auto& l : split_lines(text)) {
        if (l == line)
            return true;
    }
    return false;
}

// Restores the installed wrapper to root:GATE 02755 when it goes out of scope.
class WrapperModeGuard {
public:
    WrapperModeGuard() = default;
    WrapperModeGuard(const WrapperModeGuard&) = delete;
    WrapperModeGuard& operator=(const WrapperModeGuard&) = delete;
    ~WrapperModeGuard()
    {
        const std::string path = path_attach();
        EXPECT_EQ(chown(path.c_str(), 0, World::get().gate_gid()), 0) << path;
        EXPECT_EQ(chmod(path.c_str(), 02755), 0) << path;
    }
};

}  // namespace

// Scenarios of the CLI: shares served by root for a role account, the
// server's access list as its owner reads it.
class CliE2E : public E2E {
protected:
    // A share whose owner is the role account `other` (served by root).
    Share role_share_make(const std::string& name)
    {
        Share s = share_make(name);
        s.owner = &user("other");
        s.socket = path_runtime_dir() + "/" + std::to_string(s.owner->uid) + "/" + name;
        return s;
    }

    // The pid of the server answering at s.socket, -1 if none answers.
    pid_t server_pid_of(const Share& s)
    {
        RunResult r =
            owner_tmux(s, {"display-message", "-p", "-t", "=" + s.session + ":", "#{pid}"});
        return r.status == 0 ? static_cast<pid_t>(std::stol(r.out)) : -1;
    }

    // Waits for the server of `s`, records it for cleanup; false if none answers.
    bool server_track(Share& s)
    {
        pid_t pid = -1;
        if (!wait_until([&] { return (pid = server_pid_of(s)) > 0; }))
            return false;
        s.server_pid = pid;
        served_.push_back(s);
        World::get().outer_register_pid(pid);
        return true;
    }

    // `server-access -l` run by the owner against its own server, without
    // the owner's own line (tmux always lists the server's user as "(W)").
    std::string access_list(const Share& s)
    {
        RunResult r = owner_tmux(s, {"server-access", "-l"});
        EXPECT_EQ(r.status, 0) << r.both();
        EXPECT_TRUE(has_line(r.out, s.owner->name + " (W)")) << r.both();
        std::string guests;
        for (const auto& line : split_lines(r.out)) {
            if (line != s.owner->name + " (W)")
                guests += line + "\n";
        }
        return guests;
    }

    // The viewer's -n attempt is allowed as `mode`; its record names the server.
    void expect_viewer_allowed(const Share& s, std::string_view mode)
    {
        LogMark mark = log_mark();
        RunResult r = attach_check(user("viewer"), {s.name});
        expect_allowed(r, mode);
        auto rec = log_record_of(mark, r.pid);
        ASSERT_NO_FATAL_FAILURE(expect_record(rec, "allow", "permitted", mode));
        EXPECT_EQ(rec->get("server_pid"), std::to_string(s.server_pid)) << rec->line;
        EXPECT_EQ(rec->get("owner_uid"), std::to_string(s.owner->uid)) << rec->line;
    }
};

// ---------------------------------------------------------------- explain

// Every kind of rule: the decision line names the rule's FILE:LINE; exit 0
// for allow, 1 for deny; an `hours` window allows at its start and refuses
// at its end.
TEST_F(CliE2E, ExplainPrintsTheDecisionAndTheRule)
{
    const std::string team = ":" + World::get().team_group();
    Share s = share_make("cli.explain");
    ASSERT_NO_FATAL_FAILURE(policy_install({
        s.policy_line(),                                                   // 0
        rule_permit("view", user("viewer").name, s),                       // 1
        rule_permit("interact", user("typist").name, s, "hours 09:00-17:00"),  // 2
        rule_permit("view", user("denied").name, s),                       // 3
        rule_deny(user("denied").name, s),                                 // 4
        rule_permit("view", team, s),                                      // 5
    }));
    struct Row {
        std::string role;
        const char* at;  // nullptr: now
        std::string line;
        int status;
        std::string runner = {};  // empty: root
    };
    const std::vector<Row> rows = {
        {"owner", nullptr, "allow interact (owner)", 0},
        {"viewer", nullptr, "allow view (permitted by " + policy_rule_source(1) + ")", 0},
        {"typist", "09:00", "allow interact (permitted by " + policy_rule_source(2) + ")", 0},
        {"typist", "16:59", "allow interact (permitted by " + policy_rule_source(2) + ")", 0},
        {"typist", "08:59", "deny (outside-hours: " + policy_rule_source(2) + ")", 1},
        {"typist", "17:00", "deny (outside-hours: " + policy_rule_source(2) + ")", 1},
        {"denied", nullptr, "deny (denied-by-rule: " + policy_rule_source(4) + ")", 1},
        {"member", nullptr, "allow view (permitted by " + policy_rule_source(5) + ")", 0},
        {"nobody", nullptr, "deny (no-rule)", 1},
        {"member", "12:00", "allow view (permitted by " + policy_rule_source(5) + ")", 0, "other"},
        {"nobody", nullptr, "deny (no-rule)", 1, "viewer"},
    };
    for (const auto& row : rows) {
        std::vector<std::string> argv = {path_cli(), "explain", user(row.role).name, s.name};
        if (row.at != nullptr)
            argv.insert(argv.end(), {"--at", at_time(row.at)});
        SCOPED_TRACE(row.role + " at " + (row.at ? row.at : "now") + " run by " +
                     (row.runner.empty() ? "root" : row.runner));
        RunResult r =
            row.runner.empty() ? proc_run(argv) : proc_run_as(user(row.runner).name, argv);
        EXPECT_EQ(r.status, row.status) << r.both();
        EXPECT_EQ(r.out, row.line + "\n") << r.both();
        EXPECT_EQ(r.err, "") << r.both();
    }
}

// --json: one flat object with decision, mode, reason, rule (null when no
// rule decided) and the time asked about; options may come first.
TEST_F(CliE2E, ExplainJsonHasDecisionModeReasonAndRule)
{
    Share s = share_make("cli.explain.json");
    ASSERT_NO_FATAL_FAILURE(policy_install({
        s.policy_line(),
        rule_permit("interact", user("typist").name, s, "hours 09:00-17:00"),
    }));
    struct Row {
        std::string role;
        const char* at;
        std::string decision, mode, reason, rule;
        int status;
    };
    const std::vector<Row> rows = {
        {"typist", "09:00", "allow", "interact", "permitted", policy_rule_source(1), 0},
        {"typist", "17:00", "deny", "none", "outside-hours", policy_rule_source(1), 1},
        {"owner", "17:00", "allow", "interact", "owner", "null", 0},
        {"nobody", "09:00", "deny", "none", "no-rule", "null", 1},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(row.role + " at " + row.at);
        const Account& who = user(row.role);
        RunResult r = cli_run({"explain", "--json", who.name, "--at", at_time(row.at), s.name});
        EXPECT_EQ(r.status, row.status) << r.both();
        EXPECT_EQ(r.err, "") << r.both();
        std::vector<std::string> lines = split_lines(r.out);
        ASSERT_EQ(lines.size(), 1u) << r.both();
        auto obj = json_parse_flat(lines[0]);
        ASSERT_TRUE(obj.has_value()) << "not one flat JSON object: " << r.out;
        Record rec{*obj, lines[0]};
        EXPECT_EQ(rec.get("user"), who.name) << rec.line;
        EXPECT_EQ(rec.get("uid"), std::to_string(who.uid)) << rec.line;
        EXPECT_EQ(rec.get("share"), s.name) << rec.line;
        EXPECT_EQ(rec.get("decision"), row.decision) << rec.line;
        EXPECT_EQ(rec.get("mode"), row.mode) << rec.line;
        EXPECT_EQ(rec.get("reason"), row.reason) << rec.line;
        EXPECT_EQ(rec.get("rule"), row.rule) << rec.line;
        if (row.rule == "null") {
            EXPECT_EQ(rec.fields.at("rule").kind, JsonValue::Kind::null) << rec.line;
        }
        EXPECT_EQ(rec.get("at"), at_time(row.at)) << rec.line;
    }
}

// An account NSS does not know, and a malformed time: usage errors, exit 2.
TEST_F(CliE2E, ExplainUnknownUserIsAUsageError)
{
    Share s = share_make("cli.explain.ghost");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", "*", s)}));
    const std::string ghost = World::get().tag() + "-ghost";
    RunResult r = cli_run({"explain", ghost, s.name});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.out, "") << r.both();
    EXPECT_EQ(r.err, "tmuxguard: explain: unknown user '" + ghost + "'\n") << r.both();

    r = cli_run({"explain", user("viewer").name, s.name, "--at", "2030-01-07 09:00"});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.out, "") << r.both();
    EXPECT_EQ(r.err,
              "tmuxguard: explain: invalid time '2030-01-07 09:00' (want YYYY-MM-DDTHH:MM)\n")
        << r.both();
}

// ---------------------------------------------------------------- check-policy

// --json on a valid file, and on a file with a parse error and an unknown
// user: valid, every error as FILE:LINE: message, the parsed counts.
TEST_F(CliE2E, CheckPolicyJsonReportsValidityAndErrors)
{
    const std::string ghost = World::get().tag() + "-ghost";
    const std::string good = path_scratch() + "/check-good.conf";
    const std::string bad = path_scratch() + "/check-bad.conf";
    ASSERT_NO_FATAL_FAILURE(policy_file_write(good, {
        "share cli.check owner " + user("owner").name,
        "permit view " + user("viewer").name + " on cli.check",
        "deny " + user("denied").name + " on cli.check",
    }));
    ASSERT_NO_FATAL_FAILURE(policy_file_write(bad, {
        "share cli.check owner " + user("owner").name,
        "permit view " + user("viewer").name + " on cli.check",
        "permit sometimes " + user("viewer").name + " on cli.check",
        "permit view " + ghost + " on cli.check",
    }));

    RunResult r = cli_run({"check-policy", "--json", good});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "{\"valid\":true,\"errors\":[],\"shares\":1,\"rules\":2}\n") << r.both();
    EXPECT_EQ(r.err, "") << r.both();

    r = cli_run({"check-policy", bad, "--json"});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.out, "{\"valid\":false,\"errors\":[\"" + bad +
                         ":3: permit mode 'sometimes' is not view or interact\",\"" + bad +
                         ":4: unknown user '" + ghost + "'\"],\"shares\":1,\"rules\":2}\n")
        << r.both();
    EXPECT_EQ(r.err, "") << r.both();

    r = cli_run({"check-policy", bad});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.out, bad + ":3: permit mode 'sometimes' is not view or interact\n" + bad +
                         ":4: unknown user '" + ghost + "'\n")
        << r.both();
}

// A backslash in a message is JSON-escaped once ("\\\\"), never run through
// the terminal filter as well ("\\x5c" made the output invalid JSON).
TEST_F(CliE2E, CheckPolicyJsonEscapesABackslashOnce)
{
    const std::string bad = path_scratch() + "/check-backslash.conf";
    ASSERT_NO_FATAL_FAILURE(policy_file_write(bad, {
        "share cli.bs owner " + user("owner").name,
        "permit so\\me " + user("viewer").name + " on cli.bs",
    }));
    RunResult r = cli_run({"check-policy", bad, "--json"});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.out, "{\"valid\":false,\"errors\":[\"" + bad +
                         ":2: permit mode 'so\\\\me' is not view or interact\"],\"shares\":1,"
                         "\"rules\":0}\n")
        << r.both();
}

// ---------------------------------------------------------------- serve

// Root serves a role account's share: the server runs as that account, the
// socket and directory carry the contract ACL, the options are hardened,
// and a permitted viewer's wrapper verifies the server's peer uid.
TEST_F(CliE2E, ServeByRootRunsTheServerAsTheRoleAccountHardened)
{
    const Account& viewer = user("viewer");
    Share s = role_share_make("cli.role");
    const Account& role = *s.owner;
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));

    RunResult r = cli_run({"serve", s.name});
    ASSERT_TRUE(server_track(s)) << "no server answers after serve\n" << r.both();
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "sync " + s.name + ": +" + viewer.name + " view\nserving " + s.name + " at " +
                         s.socket + " (pid " + std::to_string(s.server_pid) + ")\n")
        << r.both();
    EXPECT_EQ(r.err, "") << r.both();

    const std::string uid = std::to_string(role.uid);
    const std::string gid = std::to_string(role.gid);
    EXPECT_EQ(proc_status_fields(s.server_pid, "Uid"), std::vector<std::string>(4, uid));
    EXPECT_EQ(proc_status_fields(s.server_pid, "Gid"), std::vector<std::string>(4, gid));
    struct stat st {};
    ASSERT_EQ(lstat(s.socket.c_str(), &st), 0) << s.socket;
    EXPECT_EQ(st.st_uid, role.uid);

    const std::string gate = World::get().gate_group();
    EXPECT_EQ(acl_entries(s.socket),
              "user::rw-\ngroup::---\ngroup:" + gate + ":rw-\nmask::rw-\nother::---\n");
    const std::string dir = path_runtime_dir() + "/" + uid;
    EXPECT_EQ(acl_entries(dir),
              "user::rwx\ngroup::---\ngroup:" + gate + ":--x\nmask::--x\nother::---\n");
    ASSERT_EQ(lstat(dir.c_str(), &st), 0) << dir;
    EXPECT_EQ(st.st_uid, role.uid);

    struct Opt {
        std::vector<std::string> args;
        std::string value;
    };
    const std::vector<Opt> opts = {
        {{"show", "-gv", "allow-rename"}, "off\n"},
        {{"show", "-gv", "allow-passthrough"}, "off\n"},
        {{"show", "-gv", "update-environment"}, ""},
        {{"show", "-gv", "destroy-unattached"}, "off\n"},
        {{"show", "-sv", "exit-empty"}, "on\n"},
        {{"show", "-sv", "exit-unattached"}, "off\n"},
    };
    for (const auto& o : opts) {
        RunResult v = owner_tmux(s, o.args);
        EXPECT_EQ(v.status, 0) << o.args.back() << "\n" << v.both();
        EXPECT_EQ(v.out, o.value) << o.args.back() << "\n" << v.both();
    }
    EXPECT_EQ(access_list(s), viewer.name + " (R)\n");
    ASSERT_NO_FATAL_FAILURE(expect_viewer_allowed(s, "view"));
}

// Serving a running share again says so, keeps the server and exits 0; a
// user who is neither root nor the owner is refused with exit 1.
TEST_F(CliE2E, ServeAgainSaysAlreadyServedAndStrangersAreRefused)
{
    const Account& viewer = user("viewer");
    Share s = role_share_make("cli.again");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    RunResult r = cli_run({"serve", s.name});
    ASSERT_TRUE(server_track(s)) << r.both();
    ASSERT_EQ(r.status, 0) << r.both();

    r = cli_run({"serve", s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, s.name + " already served (pid " + std::to_string(s.server_pid) +
                         ")\nsync " + s.name + ": in sync\n")
        << r.both();
    EXPECT_EQ(server_pid_of(s), s.server_pid);

    for (const char* who : {"viewer", "owner"}) {
        SCOPED_TRACE(who);
        RunResult stranger = proc_run_as(user(who).name, {path_cli(), "serve", s.name});
        EXPECT_EQ(stranger.status, 1) << stranger.both();
        EXPECT_EQ(stranger.out, "") << stranger.both();
        EXPECT_EQ(stranger.err,
                  "tmuxguard: serve: only the owner of " + s.name + " or root may serve it\n")
            << stranger.both();
    }
    EXPECT_EQ(server_pid_of(s), s.server_pid);
    EXPECT_EQ(access_list(s), viewer.name + " (R)\n");
}

// A server killed with SIGKILL leaves a stale socket: the viewer is refused
// (server-not-running); serve removes the socket and a new server answers.
TEST_F(CliE2E, ServeCleansUpAStaleSocket)
{
    Share s = role_share_make("cli.stale");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("view", user("viewer").name, s)}));
    RunResult r = cli_run({"serve", s.name});
    ASSERT_TRUE(server_track(s)) << r.both();
    const pid_t old_pid = s.server_pid;
    const ino_t old_inode = socket_inode(s.socket);
    ASSERT_EQ(kill(old_pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !proc_is_alive(old_pid); }));
    ASSERT_EQ(socket_inode(s.socket), old_inode) << "SIGKILL removed the socket";
    expect_denied(attach_check(user("viewer"), {s.name}), "server-not-running");

    r = cli_run({"serve", s.name});
    ASSERT_TRUE(server_track(s)) << "no new server\n" << r.both();
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_NE(s.server_pid, old_pid);
    EXPECT_NE(socket_inode(s.socket), old_inode) << "the stale socket was not replaced";
    EXPECT_EQ(r.out, "sync " + s.name + ": +" + user("viewer").name + " view\nserving " + s.name +
                         " at " + s.socket + " (pid " + std::to_string(s.server_pid) + ")\n")
        << r.both();
    ASSERT_NO_FATAL_FAILURE(expect_viewer_allowed(s, "view"));
}

// ---------------------------------------------------------------- sync

// SIGUSR1 makes tmux re-create its socket without the ACL: the viewer is
// refused (acl-gate-missing) until the owner runs `tmuxguard sync SHARE`.
TEST_F(CliE2E, SyncRestoresTheSocketAclAfterSigusr1)
{
    Share s = share_make("cli.usr1");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("view", user("viewer").name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    ASSERT_NO_FATAL_FAILURE(expect_viewer_allowed(s, "view"));
    const ino_t before = socket_inode(s.socket);

    RunResult k = proc_run_as(s.owner->name, {"kill", "-USR1", std::to_string(s.server_pid)});
    ASSERT_EQ(k.status, 0) << k.both();
    ASSERT_TRUE(wait_until([&] {
        ino_t now = socket_inode(s.socket);
        return now != 0 && now != before;
    })) << "tmux did not re-create its socket";
    EXPECT_EQ(acl_entries(s.socket), "user::rw-\ngroup::---\nother::---\n");
    LogMark mark = log_mark();
    RunResult denied = attach_check(user("viewer"), {s.name});
    expect_denied(denied, "acl-gate-missing");
    expect_record(log_record_of(mark, denied.pid), "deny", "acl-gate-missing");

    RunResult r = proc_run_as(s.owner->name, {path_cli(), "sync", s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "sync " + s.name + ": in sync\n") << r.both();
    EXPECT_EQ(acl_entries(s.socket), "user::rw-\ngroup::---\ngroup:" + World::get().gate_group() +
                                         ":rw-\nmask::rw-\nother::---\n");
    ASSERT_NO_FATAL_FAILURE(expect_viewer_allowed(s, "view"));
}

// view -> interact in the policy; reload shows the change and the server's
// access list says (W).
TEST_F(CliE2E, ReloadTurnsViewIntoInteractOnTheServer)
{
    const Account& viewer = user("viewer");
    Share s = share_make("cli.mode");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    EXPECT_EQ(access_list(s), viewer.name + " (R)\n");

    ASSERT_NO_FATAL_FAILURE(
        policy_write({s.policy_line(), rule_permit("interact", viewer.name, s)}));
    RunResult r = cli_run({"reload"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "sync " + s.name + ": ~" + viewer.name +
                         " interact (was view)\nreloaded: 1 shares, 1 rules\n")
        << r.both();
    EXPECT_EQ(access_list(s), viewer.name + " (W)\n");
    ASSERT_NO_FATAL_FAILURE(expect_viewer_allowed(s, "interact"));
}

// A user the owner put on the server's list by hand, whom the policy never
// named, is removed by sync, with a revoke record.
TEST_F(CliE2E, SyncRemovesAUserAddedByHand)
{
    const Account& viewer = user("viewer");
    const Account& nobody = user("nobody");
    Share s = share_make("cli.hand");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    RunResult add = owner_tmux(s, {"server-access", "-a", nobody.name});
    ASSERT_EQ(add.status, 0) << add.both();
    const std::string listed = access_list(s);
    ASSERT_TRUE(has_line(listed, nobody.name + " (R)") || has_line(listed, nobody.name + " (W)"))
        << listed;

    LogMark mark = log_mark();
    RunResult r = cli_run({"sync", s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "sync " + s.name + ": -" + nobody.name + " revoked\n") << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    EXPECT_EQ(access_list(s), viewer.name + " (R)\n");
    auto rec = log_wait_record(mark, [&](const Record& x) {
        return x.get("event") == "revoke" && x.get("uid") == std::to_string(nobody.uid);
    });
    ASSERT_NO_FATAL_FAILURE(expect_record(rec, "deny", "no-rule"));
    EXPECT_EQ(rec->get("share"), s.name) << rec->line;
    EXPECT_EQ(rec->get("server_pid"), std::to_string(s.server_pid)) << rec->line;
    EXPECT_EQ(rec->get("detail"), "revoked by uid 0") << rec->line;

    r = cli_run({"sync", s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "sync " + s.name + ": in sync\n") << r.both();
}

// ---------------------------------------------------------------- reload

// reload by a user: exit 1, and the compiled policy is left as it was.
TEST_F(CliE2E, ReloadByANonRootUserIsRefused)
{
    Share s = share_make("cli.reload.user");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    const ino_t compiled = file_inode(tg::paths::compiled_policy);
    ASSERT_NE(compiled, 0u);
    ASSERT_NO_FATAL_FAILURE(
        policy_write({s.policy_line(), rule_permit("interact", user("viewer").name, s)}));
    for (const char* who : {"owner", "viewer"}) {
        SCOPED_TRACE(who);
        RunResult r = proc_run_as(user(who).name, {path_cli(), "reload"});
        EXPECT_EQ(r.status, 1) << r.both();
        EXPECT_EQ(r.out, "") << r.both();
        EXPECT_EQ(r.err, "tmuxguard: reload: must be run as root\n") << r.both();
    }
    EXPECT_EQ(file_inode(tg::paths::compiled_policy), compiled) << "the compiled policy changed";
    expect_denied(attach_check(user("viewer"), {s.name}), "no-rule");
}

// reload while the wrapper is not setgid: exit 3, the message names the
// wrapper and what was found; nothing is published.
TEST_F(CliE2E, ReloadRefusesAWrapperThatIsNotSetgid)
{
    Share s = share_make("cli.reload.gate");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    const ino_t compiled = file_inode(tg::paths::compiled_policy);
    {
        WrapperModeGuard restore;
        ASSERT_EQ(chmod(path_attach().c_str(), 0755), 0) << std::strerror(errno);
        RunResult r = cli_run({"reload"});
        EXPECT_EQ(r.status, 3) << r.both();
        EXPECT_EQ(r.out, "") << r.both();
        EXPECT_EQ(r.err, "tmuxguard: reload: tmuxguard-attach at " + path_attach() +
                             " is not installed setgid root:GROUP 2755 (found uid 0 gid " +
                             std::to_string(World::get().gate_gid()) + " mode 0755)\n")
            << r.both();
        EXPECT_EQ(file_inode(tg::paths::compiled_policy), compiled) << "a policy was published";
    }
    struct stat st {};
    ASSERT_EQ(stat(path_attach().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 02755u);
    EXPECT_EQ(st.st_gid, World::get().gate_gid());
    RunResult r = cli_run({"reload"});
    EXPECT_EQ(r.status, 0) << r.both();
}

// A `set tmux` naming a binary in a user-writable place: reload says every
// attach will be refused and exits 3; the wrapper refuses (tmux-unsafe)
// rather than run a program its owner could have replaced.
TEST_F(CliE2E, UntrustedTmuxIsReportedByReloadAndRefusedByTheWrapper)
{
    const Account& viewer = user("viewer");
    const Account& other = user("other");
    const std::string dir = path_scratch() + "/usertmux";
    std::filesystem::create_directories(dir);
    ASSERT_EQ(chown(dir.c_str(), other.uid, other.gid), 0);
    std::filesystem::copy_file("/usr/bin/tmux", dir + "/tmux",
                               std::filesystem::copy_options::overwrite_existing);
    Share s = share_make("cli.tmux");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    ASSERT_NO_FATAL_FAILURE(policy_write({"set tmux " + dir + "/tmux", s.policy_line(),
                                          rule_permit("view", viewer.name, s)}));
    RunResult r = cli_run({"reload"});
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_TRUE(contains(r.err, "tmux at " + dir + "/tmux is not trusted")) << r.both();
    EXPECT_TRUE(contains(r.err, "(tmux-unsafe)")) << r.both();
    expect_denied(attach_check(viewer, {s.name}), "tmux-unsafe");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    expect_allowed(attach_check(viewer, {s.name}), "view");
}

// `set log` naming an existing root file that is not the log (a typo such as
// /etc/passwd): reload does not hand it to the gate group.
TEST_F(CliE2E, ReloadDoesNotAdoptAForeignFileAsTheLog)
{
    const std::string foreign = path_scratch() + "/not-a-log";
    {
        std::ofstream out(foreign, std::ios::trunc);
        out << "root:x:0:0:precious\n";
    }
    ASSERT_EQ(chmod(foreign.c_str(), 0644), 0);
    Share s = share_make("cli.log");
    ASSERT_NO_FATAL_FAILURE(policy_write({"set log " + foreign, s.policy_line()}));
    RunResult r = cli_run({"reload"});
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_TRUE(contains(r.err, "not adopting it as the log")) << r.both();
    struct stat st {};
    ASSERT_EQ(stat(foreign.c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, 0u);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(file_read(foreign), "root:x:0:0:precious\n");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
}

}  // namespace tge2e
