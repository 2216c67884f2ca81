// What the guest's tmux client inherits: a real attach inside an outer tmux,
// then the client process the wrapper started (its child, on a pty of its
// own, while the wrapper relays) is inspected through /proc
// (environment, working directory, descriptors, ids). And a wrapper started
// with descriptors 0-2 closed still decides and logs.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSecret = "tg-e2e-secret-4242";

// The guest's shell before it runs the wrapper: it starts in its home, holds
// /etc/hostname on fd 7 and exports variables the client must never see.
std::string guest_shell_prefix(const Account& guest)
{
    return "cd " + guest.home +
           " && exec 7</etc/hostname"
           " && export SSH_AUTH_SOCK=/tmp/tg-agent.sock SECRET=" +
           kSecret + " LD_PRELOAD=/nonexistent/tg-evil.so TMUX_TMPDIR=/tmp/tg-tmpdir";
}

// The NUL-separated entries of /proc/PID/environ.
std::vector<std::string> proc_environ(pid_t pid)
{
    const std::string text = file_read("/proc/" + std::to_string(pid) + "/environ");
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\0', start);
        end = end == std::string::npos ? text.size() : end;
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// The target of a /proc symlink, "" if unreadable.
std::string link_read(const std::string& path)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Whether an environment entry is one the wrapper may pass on.
bool env_name_allowed(const std::string& entry)
{
    const std::string name = entry.substr(0, entry.find('='));
    for (const char* ok : {"PATH", "HOME", "SHELL", "USER", "LOGNAME", "TERM", "LANG"}) {
        if (name == ok)
            return true;
    }
    return name.rfind("LC_", 0) == 0;
}

// Waits (bounded) for the child r.pid; fills in status or timed_out.
void child_wait(RunResult& r)
{
    int ws = 0;
    if (!wait_until([&] { return waitpid(r.pid, &ws, WNOHANG) == r.pid; })) {
        kill(-r.pid, SIGKILL);
        waitpid(r.pid, &ws, 0);
        r.timed_out = true;
        return;
    }
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

// Runs `argv` as `who` with descriptors 0-2 (and all others) closed; output
// cannot be captured, so only pid and status are filled in.
RunResult run_without_stdio(const Account& who, const std::vector<std::string>& argv)
{
    int n = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    if (getgrouplist(who.name.c_str(), who.gid, groups.data(), &n) < 0)
        n = 0;
    groups.resize(static_cast<std::size_t>(n));
    std::vector<std::string> args = argv;
    std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + who.home, "USER=" + who.name,
                                    "LOGNAME=" + who.name, "LANG=C.UTF-8"};
    std::vector<char*> c_args, c_env;
    for (auto& a : args)
        c_args.push_back(a.data());
    c_args.push_back(nullptr);
    for (auto& e : env)
        c_env.push_back(e.data());
    c_env.push_back(nullptr);
    RunResult r;
    r.pid = fork();
    if (r.pid == 0) {
        setpgid(0, 0);
        if (setgroups(groups.size(), groups.data()) != 0 ||
            setresgid(who.gid, who.gid, who.gid) != 0 ||
            setresuid(who.uid, who.uid, who.uid) != 0 || chdir(who.home.c_str()) != 0 ||
            close_range(0, ~0U, 0) != 0)
            _exit(125);
        execve(c_args[0], c_args.data(), c_env.data());
        _exit(127);
    }
    if (r.pid > 0)
        child_wait(r);
    return r;
}

}  // namespace

// A guest attached for real, and the pid of the tmux client the wrapper started.
class ClientStateE2E : public E2E {
protected:
    // The pid of `uid`'s client on the share's server, -1 if none.
    pid_t client_pid_of(const Share& s, uid_t uid)
    {
        const std::string want = std::to_string(uid) + " ";
        RunResult r = owner_tmux(s, {"list-clients", "-F", "#{client_uid} #{client_pid}"});
        for (const auto& line : split_lines(r.out)) {
            if (line.rfind(want, 0) == 0)
                return static_cast<pid_t>(std::stol(line.substr(want.size())));
        }
        return -1;
    }
};

// The guest's shell proves what it hands the wrapper: its home as cwd,
// /etc/hostname on fd 7, and the exported variables.
TEST_F(ClientStateE2E, GuestShellReallyHandsOverTheHostileState)
{
    const Account& viewer = user("viewer");
    RunResult r = proc_run_as(viewer.name, {"/bin/sh", "-c",
                                            guest_shell_prefix(viewer) +
                                                " && pwd && readlink /proc/self/fd/7 && exec env"});
    EXPECT_EQ(r.status, 0) << r.both();
    const std::vector<std::string> lines = split_lines(r.out);
    ASSERT_GE(lines.size(), 2u) << r.both();
    EXPECT_EQ(lines[0], viewer.home) << r.both();
    EXPECT_EQ(lines[1], "/etc/hostname") << r.both();
    for (const std::string& want : std::vector<std::string>{
             "SSH_AUTH_SOCK=/tmp/tg-agent.sock", std::string("SECRET=") + kSecret,
             "LD_PRELOAD=/nonexistent/tg-evil.so", "TMUX_TMPDIR=/tmp/tg-tmpdir"})
        EXPECT_TRUE(contains(r.out, "\n" + want + "\n")) << want << "\n" << r.both();
}

// The client's environment is the rebuilt one, its cwd is /, it holds no
// descriptor the guest passed in, its gids are the guest's real gid and the
// gate as effective gid, and it cannot gain privileges; the owner's server
// never learns the guest's variables.
TEST_F(ClientStateE2E, AttachedClientHasOnlyTheRebuiltState)
{
    const Account& viewer = user("viewer");
    Share s = share_make("cs.state");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));

    LogMark mark = log_mark();
    const std::string script =
        guest_shell_prefix(viewer) + " && exec " + path_attach() + " " + s.name;
    Outer o = outer_attach(viewer, {"-c", script}, {}, "/bin/sh");
    pid_t client = -1;
    ASSERT_TRUE(wait_until([&] { return (client = client_pid_of(s, viewer.uid)) > 0; }))
        << "the viewer never attached; outer pane:\n"
        << outer_capture(o);
    EXPECT_EQ(link_read("/proc/" + std::to_string(client) + "/exe"), "/usr/bin/tmux");
    auto rec = log_wait_record(mark, [&](const Record& x) {
        return x.get("event") == "attach" && x.get("uid") == std::to_string(viewer.uid);
    });
    ASSERT_NO_FATAL_FAILURE(expect_record(rec, "allow", "permitted", "view"));
    const auto wrapper = static_cast<pid_t>(std::stol(rec->get("pid")));
    // wrapper (the relay) -> its only child, the pty's monitor -> the client.
    const std::vector<pid_t> monitor = proc_children(wrapper);
    ASSERT_EQ(monitor.size(), 1u) << "the wrapper " << wrapper << " should have one child";
    EXPECT_EQ(proc_children(monitor[0]), std::vector<pid_t>{client})
        << "the client is not the only child of the monitor under the wrapper " << wrapper
        << " that logged the attach";

    // Environment: only the allowlist, with the guest's account values.
    const std::vector<std::string> env = proc_environ(client);
    std::string shown;
    for (const auto& e : env)
        shown += e + "\n";
    for (const auto& e : env)
        EXPECT_TRUE(env_name_allowed(e)) << "unexpected variable " << e << " in\n" << shown;
    for (const std::string& want :
         std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=" + viewer.home, "SHELL=/bin/sh",
                                  "USER=" + viewer.name, "LOGNAME=" + viewer.name})
        EXPECT_NE(std::find(env.begin(), env.end(), want), env.end())
            << want << " missing:\n"
            << shown;
    EXPECT_FALSE(contains(shown, kSecret)) << shown;
    EXPECT_FALSE(contains(shown, "SSH_AUTH_SOCK")) << shown;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"show-environment", "-t", "=" + s.session}, {"show-environment", "-g"}}) {
        RunResult r = owner_tmux(s, args);
        EXPECT_EQ(r.status, 0) << r.both();
        // "-SSH_AUTH_SOCK" lines are tmux's own removal markers, written when
        // serve's new-session ran with the default update-environment (the
        // owner had none of them); a value would be "NAME=VALUE".
        for (const char* leaked : {"SECRET=", kSecret, "SSH_AUTH_SOCK=", "tg-agent",
                                   "LD_PRELOAD=", "TMUX_TMPDIR="})
            EXPECT_FALSE(contains(r.out, leaked)) << leaked << " reached the owner:\n" << r.out;
    }

    // Working directory: /, not the guest's home.
    const std::string proc = "/proc/" + std::to_string(client);
    EXPECT_EQ(link_read(proc + "/cwd"), "/");

    // Descriptors: nothing of the guest's fd 7.
    std::string fds;
    for (const auto& e : fs::directory_iterator(proc + "/fd"))
        fds += e.path().filename().string() + " -> " + link_read(e.path().string()) + "\n";
    EXPECT_FALSE(fds.empty()) << "cannot read " << proc << "/fd";
    EXPECT_FALSE(contains(fds, "/etc/hostname")) << "the guest's descriptor reached tmux:\n" << fds;

    // Ids: real = the guest's, effective gid = the gate (the client must
    // pass the socket's group:GATE:rw- entry); saved and fs gid follow the
    // effective one on exec. No new privileges.
    const std::string gate = std::to_string(World::get().gate_gid());
    EXPECT_EQ(proc_status_fields(client, "Uid"),
              std::vector<std::string>(4, std::to_string(viewer.uid)));
    EXPECT_EQ(proc_status_fields(client, "Gid"),
              (std::vector<std::string>{std::to_string(viewer.gid), gate, gate, gate}));
    std::vector<std::string> groups = proc_status_fields(client, "Groups");
    EXPECT_EQ(std::find(groups.begin(), groups.end(), gate), groups.end())
        << "the gate is a supplementary group of the client";
    EXPECT_EQ(proc_status_fields(client, "NoNewPrivs"), std::vector<std::string>{"1"});
    EXPECT_EQ(proc_status_fields(client, "Seccomp"), std::vector<std::string>{"2"})
        << "the client runs without the exec filter";
}

// The owner runs `detach-client -E CMD` against a guest's client: the
// guest's own tmux client would exec CMD as the guest (with the gate group).
// Confined, it runs nothing: no marker, and the client ends.
TEST_F(ClientStateE2E, OwnersDetachClientExecRunsNothingAsTheGuest)
{
    const Account& viewer = user("viewer");
    Share s = share_make("cs.detach");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string marker = viewer.home + "/detach-exec-marker";
    fs::remove(marker);

    Outer o = outer_attach(viewer, {s.name});
    pid_t client = -1;
    ASSERT_TRUE(wait_until([&] { return (client = client_pid_of(s, viewer.uid)) > 0; }))
        << outer_capture(o);
    const std::string tty = link_read("/proc/" + std::to_string(client) + "/fd/0");
    ASSERT_EQ(tty.rfind("/dev/pts/", 0), 0u) << tty;
    RunResult r = owner_tmux(s, {"detach-client", "-t", tty, "-E", "touch " + marker});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_TRUE(wait_until([&] { return client_pid_of(s, viewer.uid) < 0; }))
        << "the guest's client is still attached";
    EXPECT_TRUE(wait_until([&] { return !proc_is_alive(client); }))
        << "the client process lives on";
    EXPECT_TRUE(wait_until([&] { return outer_dead(o); }))
        << "the wrapper did not end with its client:\n"
        << outer_capture(o);
    EXPECT_FALSE(fs::exists(marker)) << "detach-client -E ran a command as the guest";
}

// A guest allowed to interact opens the tmux prompt of his own client and
// asks it to exec a command (detach-client -E): nothing runs, so he cannot
// turn his client's gate group into a shell that reaches other sockets.
TEST_F(ClientStateE2E, GuestsOwnDetachClientExecRunsNothing)
{
    const Account& typist = user("typist");
    Share s = share_make("cs.selfexec");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("interact", typist.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string marker = typist.home + "/self-exec-marker";
    fs::remove(marker);

    Outer o = outer_attach(typist, {s.name});
    pid_t client = -1;
    ASSERT_TRUE(wait_until([&] { return (client = client_pid_of(s, typist.uid)) > 0; }))
        << outer_capture(o);
    // Keys sent before the client draws can be lost while it sets up its
    // terminal; once the guest's screen shows the owner's output it reads them.
    owner_type(s, "echo ready-$((6*7))");
    ASSERT_TRUE(wait_until([&] { return contains(outer_capture(o), "ready-42"); }))
        << outer_capture(o);
    outer_keys(o, {"C-b", ":"});
    outer_type(o, "detach-client -E 'touch " + marker + "'");
    EXPECT_TRUE(wait_until([&] { return client_pid_of(s, typist.uid) < 0; }))
        << "the prompt command did not detach the client:\n"
        << outer_capture(o);
    EXPECT_TRUE(wait_until([&] { return !proc_is_alive(client); }))
        << "the client process lives on";
    EXPECT_TRUE(wait_until([&] { return outer_dead(o); }))
        << "the wrapper did not end with its client:\n"
        << outer_capture(o);
    EXPECT_FALSE(fs::exists(marker)) << "the guest's client exec'd a command";
}

// With 0, 1 and 2 closed the wrapper still decides, logs and exits with the
// contract's status; its record is not lost to a descriptor mix-up.
TEST_F(ClientStateE2E, WrapperWithClosedStdioStillDecides)
{
    Share s = share_make("cs.nostdio");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("view", user("viewer").name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    struct Row {
        std::string role;
        int status;
        std::string decision, reason;
    };
    for (const Row& row : std::vector<Row>{{"viewer", 0, "allow", "permitted"},
                                           {"nobody", 1, "deny", "no-rule"}}) {
        SCOPED_TRACE(row.role);
        const Account& who = user(row.role);
        LogMark mark = log_mark();
        RunResult r = run_without_stdio(who, {path_attach(), "-n", s.name});
        ASSERT_FALSE(r.timed_out);
        EXPECT_EQ(r.status, row.status)
            << "exit status of `tmuxguard-attach -n` with fds 0-2 closed (3 = system error)";
        auto rec = log_record_of(mark, r.pid);
        ASSERT_NO_FATAL_FAILURE(expect_record(rec, row.decision, row.reason));
        EXPECT_EQ(rec->get("event"), "check") << rec->line;
        EXPECT_EQ(rec->get("uid"), std::to_string(who.uid)) << rec->line;
        EXPECT_EQ(rec->get("share"), s.name) << rec->line;
        EXPECT_EQ(rec->get("tty"), "null") << rec->line;
        EXPECT_EQ(log_lines_since(mark).size(), 1u) << "one attempt, one record";
    }
}

}  // namespace tge2e
