// `tmuxguard audit` against real tmux servers of real accounts: an exposed
// socket, a socket shared with a group, an ACL over-grant on a share, a
// server list that drifted from the policy, a clean share, a stale socket,
// a server that is not a share (found with and without PATH), and a run by
// an unprivileged owner. Assertions name exact finding lines, table cells,
// "not checked" lines and exit statuses. PATH arguments keep other sockets
// of the machine out, except in the one discovery test, which only looks
// for its own sockets in the whole-machine report.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "harness.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

// The findings section: every line from the first blank line up to the
// next blank line (finding and "  fix:" lines).
std::vector<std::string> audit_findings(const std::string& out)
{
    std::vector<std::string> lines = split_lines(out);
    std::vector<std::string> got;
    std::size_t i = 0;
    while (i < lines.size() && !lines[i].empty())
        ++i;
    for (++i; i < lines.size() && !lines[i].empty(); ++i)
        got.push_back(lines[i]);
    return got;
}

// The "not checked:" lines, without their indent.
std::vector<std::string> audit_limits(const std::string& out)
{
    std::vector<std::string> got;
    bool in = false;
    for (const std::string& l : split_lines(out)) {
        if (in && l.rfind("  ", 0) == 0)
            got.push_back(l.substr(2));
        in = in || l == "not checked:";
    }
    return got;
}

// The table row of `socket`, its cells split at runs of two or more blanks;
// empty when the table has no such row.
std::vector<std::string> audit_row(const std::string& out, const std::string& socket)
{
    for (const std::string& l : split_lines(out)) {
        if (l.empty())
            break;
        std::vector<std::string> cells;
        std::size_t pos = 0;
        while (pos < l.size()) {
            std::size_t gap = l.find("  ", pos);
            if (gap == std::string::npos)
                gap = l.size();
            cells.push_back(l.substr(pos, gap - pos));
            pos = l.find_first_not_of(' ', gap);
            if (pos == std::string::npos)
                break;
        }
        if (!cells.empty() && cells[0] == socket)
            return cells;
    }
    return {};
}

// Whether `lines` holds `want`.
bool has(const std::vector<std::string>& lines, const std::string& want)
{
    return std::find(lines.begin(), lines.end(), want) != lines.end();
}

// Joined for failure messages.
std::string joined(const std::vector<std::string>& v)
{
    std::string s;
    for (const auto& x : v)
        s += "[" + x + "] ";
    return s;
}

}  // namespace

// Base of the audit scenarios: a root-owned 0755 scratch directory under
// /var/lib, removed after the servers of the test are stopped.
class AuditE2E : public E2E {
protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(E2E::SetUp());
        char tmpl[] = "/var/lib/tg-audit-e2e.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
        scratch_ = tmpl;
        ASSERT_EQ(chmod(scratch_.c_str(), 0755), 0);
        ASSERT_NO_FATAL_FAILURE(policy_install({}));
    }

    void TearDown() override
    {
        E2E::TearDown();
        std::error_code ignored;
        if (!scratch_.empty())
            fs::remove_all(scratch_, ignored);
        for (const std::string& p : remove_after_)
            fs::remove_all(p, ignored);
    }

    // SCRATCH/NAME, a directory of `who` with `mode`.
    std::string dir_make(const std::string& name, const Account& who, mode_t mode)
    {
        const std::string dir = scratch_ + "/" + name;
        EXPECT_EQ(mkdir(dir.c_str(), mode), 0) << dir << ": " << std::strerror(errno);
        EXPECT_EQ(chown(dir.c_str(), who.uid, who.gid), 0) << dir;
        EXPECT_EQ(chmod(dir.c_str(), mode), 0) << dir;
        return dir;
    }

    // A plain tmux server of `who` (not a share) at `socket`; its pid,
    // stopped in TearDown.
    pid_t plain_server(const Account& who, const std::vector<std::string>& where)
    {
        std::vector<std::string> argv = {"tmux", "-f", "/dev/null"};
        argv.insert(argv.end(), where.begin(), where.end());
        std::vector<std::string> start = argv;
        start.insert(start.end(), {"new-session", "-d"});
        RunResult r = proc_run_as(who.name, start);
        EXPECT_EQ(r.status, 0) << r.both();
        std::vector<std::string> ask = argv;
        ask.insert(ask.end(), {"display-message", "-p", "#{pid}"});
        RunResult pid;
        EXPECT_TRUE(wait_until([&] {
            pid = proc_run_as(who.name, ask);
            return pid.status == 0;
        })) << pid.both();
        if (pid.status != 0)
            return -1;
        const auto p = static_cast<pid_t>(std::stol(pid.out));
        helpers_.push_back(p);
        World::get().outer_register_pid(p);
        return p;
    }

    // `tmuxguard audit ARGS` as root, or as `who`.
    RunResult audit(const std::vector<std::string>& args, const Account* who = nullptr)
    {
        std::vector<std::string> argv = {path_cli(), "audit"};
        argv.insert(argv.end(), args.begin(), args.end());
        RunOptions opt;
        opt.user = who == nullptr ? "" : who->name;
        opt.timeout = 60s;  // the whole machine, every server asked
        return proc_run(argv, opt);
    }

    std::string scratch_;
    std::vector<std::string> remove_after_;
};

// A server of another account whose socket is 0777 in a world-searchable
// directory: anyone can run commands as that account. High, "everyone",
// exit 1; and the same socket kept 0600 is clean (the control).
TEST_F(AuditE2E, ExposedSocketIsHighForEveryoneAndExitsOne)
{
    const Account& other = user("other");
    const std::string sock = dir_make("exposed", other, 0755) + "/sock";
    const pid_t pid = plain_server(other, {"-S", sock});
    ASSERT_GT(pid, 0);
    RunResult r = audit({sock});
    EXPECT_EQ(r.status, 0) << "a 0600 socket in a 0755 directory is not exposed\n" << r.both();
    ASSERT_EQ(chmod(sock.c_str(), 0777), 0);
    r = audit({sock});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "high socket-reachable " + sock +
                      ": everyone can connect (w on the socket, x on every directory above it)",
                  "  fix: chmod 0600 " + sock + " and keep it in a 0700 directory, or serve it as a share",
                  "info not-a-share " + sock + ": a tmux server of " + other.name +
                      " that tmuxguard does not manage",
                  "  fix: define it as a share and start it with tmuxguard serve, or keep its socket in a 0700 directory",
              }))
        << r.out;
    EXPECT_EQ(audit_row(r.out, sock),
              (std::vector<std::string>{sock, other.name, std::to_string(pid), "3.3a", "-", "everyone", "(empty)"}))
        << r.out;
    // The kernel agrees: another account's client gets through to tmux's own list.
    RunResult direct = proc_run_as(user("viewer").name, {"tmux", "-N", "-S", sock, "list-sessions"});
    EXPECT_FALSE(contains(direct.err, "Permission denied")) << direct.both();
}

// A socket shared with a group (0660, group TEAM): its members, and only
// they besides the owner, can connect.
TEST_F(AuditE2E, SocketOfAGroupNamesItsMembers)
{
    const Account& other = user("other");
    const std::string sock = dir_make("grouped", other, 0755) + "/sock";
    ASSERT_GT(plain_server(other, {"-S", sock}), 0);
    RunResult g = proc_run({"chgrp", World::get().team_group(), sock});
    ASSERT_EQ(g.status, 0) << g.both();
    ASSERT_EQ(chmod(sock.c_str(), 0660), 0);
    RunResult r = audit({sock});
    EXPECT_EQ(r.status, 1) << r.both();
    const std::vector<std::string> f = audit_findings(r.out);
    ASSERT_FALSE(f.empty()) << r.out;
    EXPECT_EQ(f[0], "high socket-reachable " + sock + ": " + user("member").name +
                        " can connect (w on the socket, x on every directory above it)")
        << r.out;
    const std::vector<std::string> row = audit_row(r.out, sock);
    ASSERT_EQ(row.size(), 7u) << r.out;
    EXPECT_EQ(row[5], user("member").name + ", " + other.name) << r.out;
}

// A server of another account in a directory anyone may write (root's,
// 0777, not sticky): anyone could put their own server at that path, so
// audit says so and does not run a tmux client there (the client would
// open the path, not the inode audit checked).
TEST_F(AuditE2E, WritableDirectoryIsMediumAndItsServerIsNotAsked)
{
    const Account& other = user("other");
    const std::string dir = dir_make("open", user("owner"), 0777);
    ASSERT_EQ(chown(dir.c_str(), 0, 0), 0);
    const std::string sock = dir + "/sock";
    const pid_t pid = plain_server(other, {"-S", sock});
    ASSERT_GT(pid, 0);
    RunResult r = audit({sock});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "medium dir-writable " + sock + ": " + dir + " (owner root, mode 0777) lets others replace the socket: " +
                      other.name + "'s next tmux client could reach their server instead",
                  "  fix: chmod go-w " + dir + ", or keep the socket in a directory only " + other.name +
                      " and root can write",
                  "info not-a-share " + sock + ": a tmux server of " + other.name + " that tmuxguard does not manage",
                  "  fix: define it as a share and start it with tmuxguard serve, or keep its socket in a 0700 directory",
              }))
        << r.out;
    EXPECT_EQ(audit_row(r.out, sock),
              (std::vector<std::string>{sock, other.name, std::to_string(pid), "?", "-", other.name, "?"}))
        << r.out;
    EXPECT_TRUE(has(audit_limits(r.out), "did not query " + sock + ": " + dir + " can be changed by others (dir-writable)"))
        << r.out;
}

// A server that does not know server-access (tmux < 3.3; here a stand-in
// for the configured tmux client that answers as tmux 3.2a does): low while
// only its owner can connect, high once anyone can, since then the socket
// is the only gate.
TEST_F(AuditE2E, TmuxWithoutAccessListIsLowThenHighWhenReachable)
{
    const Account& other = user("other");
    const std::string fake = scratch_ + "/tmux-3.2a";
    {
        std::ofstream f(fake);
        f << "#!/bin/sh\n"
             "for a in \"$@\"; do\n"
             "  if [ \"$a\" = server-access ]; then echo 'unknown command: server-access' >&2; exit 1; fi\n"
             "done\n"
             "echo 3.2a\n";
    }
    ASSERT_EQ(chmod(fake.c_str(), 0755), 0);
    ASSERT_NO_FATAL_FAILURE(policy_install({"set tmux " + fake}));
    const std::string sock = dir_make("old", other, 0755) + "/sock";
    ASSERT_GT(plain_server(other, {"-S", sock}), 0);
    RunResult r = audit({sock});
    EXPECT_EQ(r.status, 0) << r.both();
    const std::string old = "tmux-old " + sock +
                            ": tmux 3.2a has no access list (server-access came in 3.3): whoever can connect "
                            "controls the server";
    const std::string fix = "  fix: upgrade tmux to 3.3 or later and restart the server";
    const std::vector<std::string> not_share = {
        "info not-a-share " + sock + ": a tmux server of " + other.name + " that tmuxguard does not manage",
        "  fix: define it as a share and start it with tmuxguard serve, or keep its socket in a 0700 directory"};
    EXPECT_EQ(audit_findings(r.out), (std::vector<std::string>{"low " + old, fix, not_share[0], not_share[1]}))
        << r.out;
    const std::vector<std::string> row = audit_row(r.out, sock);
    ASSERT_EQ(row.size(), 7u) << r.out;
    EXPECT_EQ(row[3], "3.2a") << r.out;
    EXPECT_EQ(row[6], "none (<3.3)") << r.out;
    ASSERT_EQ(chmod(sock.c_str(), 0777), 0);
    r = audit({sock});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "high socket-reachable " + sock +
                      ": everyone can connect (w on the socket, x on every directory above it)",
                  "  fix: chmod 0600 " + sock + " and keep it in a 0700 directory, or serve it as a share",
                  "high " + old, fix, not_share[0], not_share[1]}))
        << r.out;
}

// setfacl u:viewer:rw on a share's socket: medium while the runtime
// directory keeps the viewer out, high (and reachable) once a directory
// entry lets him search it; the kernel agrees both times.
TEST_F(AuditE2E, AclOverGrantOnAShareSocketIsMediumThenHigh)
{
    const Account& viewer = user("viewer");
    Share s = share_make("audit.acl");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    RunResult r = proc_run({"setfacl", "-m", "u:" + viewer.name + ":rw", s.socket});
    ASSERT_EQ(r.status, 0) << r.both();
    r = audit({s.socket});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "medium acl-overgrant " + s.socket + ": ACL entry user:" + viewer.name +
                      ":rw- (after the mask) gives " + viewer.name +
                      " the socket; a directory above it keeps them out for now",
                  "  fix: tmuxguard sync audit.acl (re-applies the socket's ACL)",
              }))
        << r.out;
    EXPECT_EQ(audit_row(r.out, s.socket),
              (std::vector<std::string>{s.socket, s.owner->name, std::to_string(s.server_pid), "3.3a",
                                        "audit.acl", s.owner->name + " +gate", "(empty)"}))
        << r.out;
    RunResult direct = proc_run_as(viewer.name, {"tmux", "-N", "-S", s.socket, "list-sessions"});
    EXPECT_TRUE(contains(direct.err, "Permission denied")) << direct.both();

    const std::string dir = fs::path(s.socket).parent_path();
    r = proc_run({"setfacl", "-m", "u:" + viewer.name + ":x", dir});
    ASSERT_EQ(r.status, 0) << r.both();
    r = audit({s.socket});
    RunResult undo = proc_run({"setfacl", "-x", "u:" + viewer.name, dir});
    EXPECT_EQ(undo.status, 0) << undo.both();
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "high acl-overgrant " + s.socket + ": ACL entry user:" + viewer.name +
                      ":rw- (after the mask) gives " + viewer.name + " the socket; they can connect",
                  "  fix: tmuxguard sync audit.acl (re-applies the socket's ACL)",
                  "high socket-reachable " + s.socket + ": " + viewer.name +
                      " can connect (w on the socket, x on every directory above it)",
                  "  fix: tmuxguard sync audit.acl, and take away the extra permissions on the directories above it",
              }))
        << r.out;
    ASSERT_EQ(proc_run({"setfacl", "-m", "u:" + viewer.name + ":x", dir}).status, 0);
    direct = proc_run_as(viewer.name, {"tmux", "-N", "-S", s.socket, "list-sessions"});
    EXPECT_EQ(proc_run({"setfacl", "-x", "u:" + viewer.name, dir}).status, 0);
    EXPECT_FALSE(contains(direct.err, "Permission denied")) << direct.both();
}

// The owner hands the viewer W by hand: on a share whose policy says view,
// and on one whose policy says nothing. Each is an exact drift finding;
// after `tmuxguard sync` there is none.
TEST_F(AuditE2E, ServerListDriftIsReportedAndSyncClearsIt)
{
    const Account& viewer = user("viewer");
    Share v = share_make("audit.drift");
    Share n = share_make("audit.drift2");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({v.policy_line(), n.policy_line(), rule_permit("view", viewer.name, v)}));
    ASSERT_NO_FATAL_FAILURE(serve(v));
    ASSERT_NO_FATAL_FAILURE(serve(n));
    RunResult r = owner_tmux(v, {"server-access", "-w", viewer.name});
    ASSERT_EQ(r.status, 0) << r.both();
    r = owner_tmux(n, {"server-access", "-a", "-w", viewer.name});
    ASSERT_EQ(r.status, 0) << r.both();
    r = audit({v.socket, n.socket});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "medium access-list-drift " + v.socket + ": " + viewer.name +
                      " has interact (W) on the server's access list; the policy allows view",
                  "  fix: tmuxguard sync audit.drift",
                  "medium access-list-drift " + n.socket + ": " + viewer.name +
                      " has interact (W) on the server's access list; the policy allows none",
                  "  fix: tmuxguard sync audit.drift2",
              }))
        << r.out;
    EXPECT_EQ(audit_row(r.out, v.socket).back(), viewer.name + "(W)") << r.out;
    r = cli_run({"sync"});
    ASSERT_EQ(r.status, 0) << r.both();
    r = audit({v.socket, n.socket});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(audit_findings(r.out), std::vector<std::string>{"no findings"}) << r.out;
    EXPECT_EQ(audit_row(r.out, v.socket).back(), viewer.name + "(R)") << r.out;
    EXPECT_EQ(audit_row(r.out, n.socket).back(), "(empty)") << r.out;
}

// A share served and synced by tmuxguard, with a viewer and a typist: no
// finding, exit 0, and the table says who is on its list.
TEST_F(AuditE2E, CleanShareHasNoFindingAndExitsZero)
{
    Share s = share_make("audit.clean");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", user("viewer").name, s),
                                            rule_permit("interact", user("typist").name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    RunResult r = audit({s.socket});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    EXPECT_EQ(audit_findings(r.out), std::vector<std::string>{"no findings"}) << r.out;
    EXPECT_EQ(audit_limits(r.out), std::vector<std::string>{}) << r.out;
    EXPECT_EQ(audit_row(r.out, s.socket),
              (std::vector<std::string>{s.socket, s.owner->name, std::to_string(s.server_pid), "3.3a",
                                        "audit.clean", s.owner->name + " +gate",
                                        user("viewer").name + "(R) " + user("typist").name + "(W)"}))
        << r.out;
    r = audit({s.socket, "--json"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_TRUE(contains(r.out, "\"findings\":[],\"limits\":[]}\n")) << r.out;
    EXPECT_EQ(split_lines(r.out).size(), 1u) << r.out;
}

// A share whose server died by SIGKILL leaves its socket: low, stale.
TEST_F(AuditE2E, StaleSocketIsLow)
{
    Share s = share_make("audit.stale");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    ASSERT_EQ(kill(s.server_pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !proc_is_alive(s.server_pid); }));
    RunResult r = audit({s.socket});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "low stale-socket " + s.socket + ": no server listens on this socket",
                  "  fix: tmuxguard serve audit.stale (removes it and starts the server)",
              }))
        << r.out;
    EXPECT_EQ(audit_row(r.out, s.socket),
              (std::vector<std::string>{s.socket, s.owner->name, "-", "stale", "audit.stale",
                                        s.owner->name + " +gate", "-"}))
        << r.out;
}

// Without PATH audit finds, among the machine's sockets: a server that is
// not a share in a directory nobody scans (/proc/net/unix and
// /proc/PID/fd), a stale socket in /tmp/tmux-UID/ (the directory scan) and
// a running share (the policy). With PATH it looks there only.
TEST_F(AuditE2E, DiscoveryFindsServersStaleSocketsAndShares)
{
    const Account& other = user("other");
    const std::string sock = dir_make("private", other, 0700) + "/sock";
    const pid_t pid = plain_server(other, {"-S", sock});
    ASSERT_GT(pid, 0);
    const std::string tmpdir = "/tmp/tmux-" + std::to_string(other.uid);
    remove_after_.push_back(tmpdir);
    const std::string label = World::get().unique_name("audit");
    const pid_t stale_pid = plain_server(other, {"-L", label});
    ASSERT_GT(stale_pid, 0);
    ASSERT_EQ(kill(stale_pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !proc_is_alive(stale_pid); }));
    const std::string stale = tmpdir + "/" + label;
    Share s = share_make("audit.found");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));

    RunResult r = audit({});
    EXPECT_TRUE(r.status == 0 || r.status == 1) << r.both();
    EXPECT_EQ(audit_row(r.out, sock),
              (std::vector<std::string>{sock, other.name, std::to_string(pid), "3.3a", "-", other.name, "(empty)"}))
        << r.out;
    EXPECT_EQ(audit_row(r.out, stale),
              (std::vector<std::string>{stale, other.name, "-", "stale", "-", other.name, "-"}))
        << r.out;
    EXPECT_EQ(audit_row(r.out, s.socket),
              (std::vector<std::string>{s.socket, s.owner->name, std::to_string(s.server_pid), "3.3a",
                                        "audit.found", s.owner->name + " +gate", "(empty)"}))
        << r.out;
    const std::vector<std::string> f = audit_findings(r.out);
    EXPECT_TRUE(has(f, "info not-a-share " + sock + ": a tmux server of " + other.name +
                           " that tmuxguard does not manage"))
        << r.out;
    EXPECT_TRUE(has(f, "low stale-socket " + stale + ": no server listens on this socket")) << r.out;

    r = audit({scratch_});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "info not-a-share " + sock + ": a tmux server of " + other.name + " that tmuxguard does not manage",
                  "  fix: define it as a share and start it with tmuxguard serve, or keep its socket in a 0700 directory",
              }))
        << r.out;
    EXPECT_TRUE(audit_row(r.out, s.socket).empty()) << "a PATH audit looked outside PATH\n" << r.out;
}

// The owner, unprivileged: his own share is asked and clean, another
// account's exposed server is still found (and its pid, from the kernel),
// and what he cannot see is said: the other account's server was not
// asked, its private directory not read.
TEST_F(AuditE2E, UnprivilegedRunReportsItsLimitsAndStillFinds)
{
    const Account& owner = user("owner");
    const Account& other = user("other");
    Share s = share_make("audit.mine");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", user("viewer").name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string exposed = dir_make("exposed", other, 0755) + "/sock";
    const pid_t pid = plain_server(other, {"-S", exposed});
    ASSERT_GT(pid, 0);
    ASSERT_EQ(chmod(exposed.c_str(), 0777), 0);
    const std::string priv = dir_make("private", other, 0700);
    ASSERT_GT(plain_server(other, {"-S", priv + "/sock"}), 0);

    RunResult r = audit({s.socket, exposed, priv}, &owner);
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(audit_findings(r.out),
              (std::vector<std::string>{
                  "high socket-reachable " + exposed +
                      ": everyone can connect (w on the socket, x on every directory above it)",
                  "  fix: chmod 0600 " + exposed + " and keep it in a 0700 directory, or serve it as a share",
                  "info not-a-share " + exposed + ": a tmux server of " + other.name +
                      " that tmuxguard does not manage",
                  "  fix: define it as a share and start it with tmuxguard serve, or keep its socket in a 0700 directory",
              }))
        << r.out;
    EXPECT_EQ(audit_row(r.out, exposed),
              (std::vector<std::string>{exposed, other.name, std::to_string(pid), "?", "-", "everyone", "?"}))
        << r.out;
    EXPECT_EQ(audit_row(r.out, s.socket).back(), user("viewer").name + "(R)") << r.out;
    const std::vector<std::string> limits = audit_limits(r.out);
    EXPECT_TRUE(has(limits, "could not look into 1 directory (permission denied; run as root)")) << joined(limits);
    EXPECT_TRUE(has(limits, "could not query 1 server of other users (run as root)")) << joined(limits);
    EXPECT_TRUE(audit_row(r.out, priv + "/sock").empty()) << r.out;
}

}  // namespace tge2e
