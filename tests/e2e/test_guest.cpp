// The guest against a hostile owner (issue 4): a guest's shell in an outer
// tmux runs the installed wrapper against a real share; the owner (or root
// standing in for the owner, who can ptrace his own server) attacks. Nothing
// runs as the guest, nothing reaches his terminal after detach, his
// environment and working directory never reach the server, his terminal
// comes back as it was, and every way the attach fails is a logged denial.
// The sibling control tests show the same attacks succeed against a plain
// `tmux attach`, so each check here is one that can fail.
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

// `s` without trailing newlines.
std::string line_trim(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

// The target of a /proc symlink, "" if unreadable.
std::string link_read(const std::string& path)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The NUL-separated entries of /proc/PID/environ, one per line.
std::string proc_environ_text(pid_t pid)
{
    std::string text = file_read("/proc/" + std::to_string(pid) + "/environ");
    for (char& c : text)
        c = c == '\0' ? '\n' : c;
    return text;
}

// Whether `needle` is anywhere in the writable memory of `pid` (heap, stack,
// anonymous maps): whatever the process was ever sent, even if freed since.
bool proc_memory_contains(pid_t pid, const std::string& needle)
{
    const std::string base = "/proc/" + std::to_string(pid);
    std::ifstream maps(base + "/maps");
    int fd = open((base + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !maps) {
        ADD_FAILURE() << "cannot read the memory of " << pid << ": " << std::strerror(errno);
        if (fd >= 0)
            close(fd);
        return false;
    }
    bool found = false;
    for (std::string line; !found && std::getline(maps, line);) {
        unsigned long start = 0, end = 0;
        char perms[5] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3 ||
            perms[0] != 'r' || perms[1] != 'w' || end <= start)
            continue;
        std::string region(end - start, '\0');
        ssize_t n = pread(fd, region.data(), region.size(), static_cast<off_t>(start));
        const std::string_view seen(region.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
        found = seen.find(needle) != std::string_view::npos;
    }
    close(fd);
    return found;
}

// Whether the terminal at `path` is in raw mode (no canonical input).
bool tty_is_raw(const std::string& path)
{
    int fd = open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    struct termios t {};
    bool raw = fd >= 0 && tcgetattr(fd, &t) == 0 && (t.c_lflag & ICANON) == 0;
    if (fd >= 0)
        close(fd);
    return raw;
}

// A path removed (recursively) when the test ends, whatever happened.
struct ScopedPath {
    std::string path;
    explicit ScopedPath(std::string p) : path(std::move(p)) {}
    ScopedPath(const ScopedPath&) = delete;
    ScopedPath& operator=(const ScopedPath&) = delete;
    ~ScopedPath()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// A root-owned 0755 directory under /var/lib (mkdtemp), removed at the end.
std::string scratch_dir_make()
{
    char tmpl[] = "/var/lib/tg-e2e-guest-XXXXXX";
    if (mkdtemp(tmpl) == nullptr || chmod(tmpl, 0755) != 0) {
        ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
        return {};
    }
    return tmpl;
}

// Every terminal the server holds, opened again by root through
// /proc/SERVER/fd/N and kept: an owner who keeps the guest's descriptor.
class KeptTerminals {
public:
    explicit KeptTerminals(pid_t server)
    {
        const std::string dir = "/proc/" + std::to_string(server) + "/fd";
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(dir, ec)) {
            std::string target = link_read(e.path().string());
            if (target.rfind("/dev/pts/", 0) != 0)
                continue;
            int fd = open(e.path().c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0)
                kept_.push_back({fd, target});
        }
    }
    KeptTerminals(const KeptTerminals&) = delete;
    KeptTerminals& operator=(const KeptTerminals&) = delete;
    ~KeptTerminals()
    {
        for (const auto& k : kept_)
            close(k.fd);
    }

    [[nodiscard]] bool holds(const std::string& tty) const
    {
        for (const auto& k : kept_) {
            if (k.path == tty)
                return true;
        }
        return false;
    }
    [[nodiscard]] std::string paths() const
    {
        std::string out;
        for (const auto& k : kept_)
            out += k.path + " ";
        return out.empty() ? "(none)" : out;
    }
    // TIOCSTI of every byte of `text` into every kept terminal (root has
    // CAP_SYS_ADMIN, so the kernel allows it); how many bytes went in.
    int inject(const std::string& text) const
    {
        int pushed = 0;
        for (const auto& k : kept_) {
            for (char c : text)
                pushed += ioctl(k.fd, TIOCSTI, &c) == 0 ? 1 : 0;
        }
        return pushed;
    }

private:
    struct Kept {
        int fd;
        std::string path;
    };
    std::vector<Kept> kept_;
};

// Every fork and exec on the machine while it records (the kernel's process
// events connector, root only): which processes of a subtree exec'd, even
// ones that ran for a millisecond.
class ExecWatch {
public:
    ExecWatch()
    {
        fd_ = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
        if (fd_ < 0) {
            error_ = std::string("socket(NETLINK_CONNECTOR): ") + std::strerror(errno);
            return;
        }
        int size = 8 << 20;  // a busy machine must not overflow it while we read
        (void)setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
        struct sockaddr_nl sa {};
        sa.nl_family = AF_NETLINK;
        sa.nl_groups = CN_IDX_PROC;
        if (bind(fd_, reinterpret_cast<const struct sockaddr*>(&sa), sizeof sa) != 0) {
            error_ = std::string("bind: ") + std::strerror(errno);
            return;
        }
        if (!subscribe(PROC_CN_MCAST_LISTEN))
            return;
        reader_ = std::thread([this] { read_loop(); });
    }
    ExecWatch(const ExecWatch&) = delete;
    ExecWatch& operator=(const ExecWatch&) = delete;
    ~ExecWatch()
    {
        stop();
        if (fd_ >= 0)
            close(fd_);
    }

    // "" when recording works, else why not.
    [[nodiscard]] const std::string& error() const { return error_; }
    // Stops recording; what was seen stays.
    void stop()
    {
        stop_ = true;
        if (reader_.joinable())
            reader_.join();
    }
    // Whether the kernel dropped events (the answer below may be incomplete).
    [[nodiscard]] bool lost() const { return lost_; }
    // The pids of `root` and its descendants that exec'd, one per exec, in order.
    [[nodiscard]] std::vector<pid_t> execs_under(pid_t root)
    {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<pid_t> out;
        for (pid_t pid : execs_) {
            if (descends(pid, root))
                out.push_back(pid);
        }
        return out;
    }

private:

    bool subscribe(proc_cn_mcast_op op)
    {
        alignas(struct nlmsghdr) char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof op)] = {};
        auto* nlh = reinterpret_cast<struct nlmsghdr*>(buf);
        nlh->nlmsg_len = static_cast<__u32>(NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof op));
        nlh->nlmsg_type = NLMSG_DONE;
        auto* cn = reinterpret_cast<struct cn_msg*>(NLMSG_DATA(nlh));
        cn->id.idx = CN_IDX_PROC;
        cn->id.val = CN_VAL_PROC;
        cn->len = sizeof op;
        std::memcpy(cn->data, &op, sizeof op);
        if (send(fd_, buf, nlh->nlmsg_len, 0) < 0) {
            error_ = std::string("subscribing to process events: ") + std::strerror(errno);
            return false;
        }
        return true;
    }

    void read_loop()
    {
        alignas(struct nlmsghdr) char buf[8192];
        constexpr std::size_t head = NLMSG_HDRLEN + sizeof(struct cn_msg);
        while (!stop_) {
            struct pollfd p {fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0)
                continue;
            ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n < 0 && errno == ENOBUFS)
                lost_ = true;
            if (n < static_cast<ssize_t>(head))
                continue;
            struct proc_event ev {};
            std::memcpy(&ev, buf + head,
                        std::min(sizeof ev, static_cast<std::size_t>(n) - head));
            record(ev);
        }
    }

    void record(const struct proc_event& ev)
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (ev.what == proc_event::PROC_EVENT_EXEC)
            execs_.push_back(ev.event_data.exec.process_tgid);
        else if (ev.what == proc_event::PROC_EVENT_FORK &&
                 ev.event_data.fork.child_pid == ev.event_data.fork.child_tgid)  // not a thread
            parent_[ev.event_data.fork.child_tgid] = ev.event_data.fork.parent_tgid;
    }

    // Whether `pid` is `root` or was forked, at any depth, by it (mu_ held).
    bool descends(pid_t pid, pid_t root) const
    {
        for (int depth = 0; depth < 64; ++depth) {
            if (pid == root)
                return true;
            auto it = parent_.find(pid);
            if (it == parent_.end())
                return false;
            pid = it->second;
        }
        return false;
    }

    int fd_ = -1;
    std::string error_;
    std::thread reader_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> lost_{false};
    std::mutex mu_;
    std::vector<pid_t> execs_;       // who exec'd, in order
    std::map<pid_t, pid_t> parent_;  // child -> parent, from fork events
};

// A guest's attach as the server and /proc see it.
struct Attached {
    pid_t wrapper = -1;  // the process that logged the decision and relays
    pid_t client = -1;   // the tmux client, the monitor's child
    pid_t monitor = -1;  // the wrapper's child on the pty (relay.hpp)
    std::string tty;     // the client's terminal, as the server names it
};

// How a test ends an attach.
enum class Ending { detach, server_killed, sigterm, sighup };

}  // namespace

// A guest's own shell in an outer tmux, from which he runs the wrapper.
class GuestE2E : public E2E {
protected:
    // A share of the owner that permits `guest` to `mode`, served.
    Share share_for(const std::string& name, const Account& guest, std::string_view mode = "view")
    {
        Share s = share_make(name);
        policy_install({s.policy_line(), rule_permit(mode, guest.name, s)});
        if (!::testing::Test::HasFatalFailure())
            serve(s);
        return s;
    }

    // An outer tmux whose pane runs `guest`'s interactive /bin/sh (with
    // `env` added), in his home.
    Outer guest_shell(const Account& guest, const std::vector<std::string>& env = {})
    {
        Outer o = outer_attach(guest, {}, env, "/bin/sh");
        outer_type(o, "cd " + guest.home);
        EXPECT_TRUE(shell_sync(o)) << "the guest's shell does not answer:\n" << outer_capture(o);
        return o;
    }

    // An outer tmux whose pane runs root's /bin/sh with `env` added.
    Outer root_shell(const std::vector<std::string>& env)
    {
        std::string cmd = "exec env";
        for (const auto& e : env)
            cmd += " '" + e + "'";  // the tests pass no quote characters
        cmd += " /bin/sh";
        Outer o = outer_start(cmd);
        EXPECT_TRUE(shell_sync(o)) << "root's shell does not answer:\n" << outer_capture(o);
        return o;
    }

    // Types an echo and waits for its output: the shell is alive and has
    // read everything typed (or injected) before it.
    bool shell_sync(const Outer& o)
    {
        const std::string token = "SYNC" + std::to_string(++syncs_) + "x";
        outer_type(o, "echo " + token + "$((6*7))");
        return wait_until([&] { return contains(outer_capture(o), token + "42"); });
    }

    // The outer pane's terminal: the guest's real one.
    std::string pane_tty(const Outer& o)
    {
        return line_trim(proc_run({"tmux", "-L", o.name, "display-message", "-p", "-t", "=outer:",
                                   "#{pane_tty}"})
                             .out);
    }

    // The command line that attaches to `s` and then prints "TOKEN-STATUS".
    static std::string attach_line(const Share& s, const std::string& token)
    {
        return path_attach() + " " + s.name + "; echo " + token + "-$?";
    }

    // The status the shell printed as "TOKEN-N" once the wrapper ended; ""
    // if it did not within kWait.
    std::string shell_status_wait(const Outer& o, const std::string& token)
    {
        const std::regex re(token + "-([0-9]+)");
        std::string status;
        (void)wait_until([&] {
            const std::string pane = outer_capture(o);
            std::smatch m;
            if (!std::regex_search(pane, m, re))
                return false;
            status = m[1];
            return true;
        });
        return status;
    }

    // `uid`'s client on the share's server: "PID TTY", "" if none.
    std::string client_of(const Share& s, uid_t uid)
    {
        const std::string want = std::to_string(uid) + " ";
        RunResult r =
            owner_tmux(s, {"list-clients", "-F", "#{client_uid} #{client_pid} #{client_tty}"});
        for (const auto& line : split_lines(r.out)) {
            if (line.rfind(want, 0) == 0)
                return line.substr(want.size());
        }
        return {};
    }

    // Waits for `guest`'s client; the wrapper is the pid of the allow record
    // written after `mark`, the client its only child.
    void attached_wait(const Share& s, const Account& guest, LogMark mark, const Outer& o,
                       Attached& a)
    {
        std::string client;
        ASSERT_TRUE(wait_until([&] { return !(client = client_of(s, guest.uid)).empty(); }))
            << "the guest never attached; his pane:\n"
            << outer_capture(o);
        std::istringstream words(client);
        words >> a.client >> a.tty;
        const std::string uid = std::to_string(guest.uid);
        auto rec = log_wait_record(mark, [&](const Record& r) {
            return r.get("event") == "attach" && r.get("uid") == uid && r.get("share") == s.name;
        });
        ASSERT_NO_FATAL_FAILURE(expect_record(rec, "allow", "permitted"));
        a.wrapper = static_cast<pid_t>(std::stol(rec->get("pid")));
        // wrapper (the relay) -> the pty's monitor -> the client.
        const std::vector<pid_t> monitor = proc_children(a.wrapper);
        ASSERT_EQ(monitor.size(), 1u) << "the wrapper should have one child, the monitor";
        a.monitor = monitor[0];
        ASSERT_EQ(proc_children(a.monitor), std::vector<pid_t>{a.client})
            << "the client is not the monitor's child under the wrapper that logged the attach";
    }

    // Attaches `guest` from his shell, ends the attach `how`, and compares
    // `stty -g` before and after, both written by the guest's shell.
    void terminal_restored_after(Ending how, const std::string& share_name)
    {
        const Account& guest = user("viewer");
        Share s = share_for(share_name, guest);
        ASSERT_FALSE(HasFatalFailure());
        Outer o = guest_shell(guest);
        const std::string tty = pane_tty(o);
        const std::string before = guest.home + "/stty-before", after = guest.home + "/stty-after";
        fs::remove(before);
        fs::remove(after);
        ASSERT_FALSE(tty_is_raw(tty)) << "the guest's terminal starts raw: nothing to restore";

        LogMark mark = log_mark();
        outer_type(o, "stty -g >" + before + "; " + attach_line(s, "END") + "; stty -g >" + after);
        Attached a;
        ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
        EXPECT_TRUE(wait_until([&] { return tty_is_raw(tty); }))
            << "the relay never put the guest's terminal in raw mode";
        switch (how) {
        case Ending::detach: outer_keys(o, {"C-b", "d"}); break;
        case Ending::server_killed: EXPECT_EQ(owner_tmux(s, {"kill-server"}).status, 0); break;
        case Ending::sigterm: EXPECT_EQ(kill(a.wrapper, SIGTERM), 0); break;
        case Ending::sighup: EXPECT_EQ(kill(a.wrapper, SIGHUP), 0); break;
        }
        const std::string status = shell_status_wait(o, "END");
        ASSERT_NE(status, "") << "the wrapper did not end:\n" << outer_capture(o);
        ASSERT_TRUE(wait_until([&] { return !file_read(after).empty(); })) << outer_capture(o);
        EXPECT_EQ(file_read(after), file_read(before))
            << "stty -g differs after the attach (wrapper exit " << status << ")";
        EXPECT_FALSE(tty_is_raw(tty));
        EXPECT_TRUE(wait_until([&] { return !proc_is_alive(a.client); }))
            << "the tmux client outlived the wrapper";
        EXPECT_TRUE(shell_sync(o)) << outer_capture(o);
    }

    // Whether a program in the share's pane sees `columns` on its terminal
    // within kWait (tmux passes a resize on to the pane's pty a little later).
    bool pane_columns_reach(const Share& s, int columns, int& round)
    {
        return wait_until([&] {
            const std::string token = "COLS" + std::to_string(++round) + "x";
            owner_type(s, "echo " + token + "$(stty size | cut -d' ' -f2)");
            const std::regex re(token + "([0-9]+)");
            std::smatch m;
            std::string pane;
            if (!wait_until([&] { return std::regex_search(pane = owner_pane(s), m, re); }, 2s))
                return false;
            return m[1] == std::to_string(columns);
        });
    }

    int syncs_ = 0;
};

// 1. The owner runs `detach-client -E CMD` against the guest's client:
// nothing runs (no marker; the only execs under the wrapper are the wrapper
// and tmux), the client ends, and the guest is back in his own shell.
TEST_F(GuestE2E, OwnersDetachClientExecRunsNothingAsTheGuest)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.detach", guest);
    ASSERT_FALSE(HasFatalFailure());
    const ScopedPath marker{"/tmp/" + World::get().unique_name("detach-marker")};
    Outer o = guest_shell(guest);

    ExecWatch watch;
    ASSERT_EQ(watch.error(), "");
    LogMark mark = log_mark();
    outer_type(o, attach_line(s, "END"));
    Attached a;
    ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
    RunResult r = owner_tmux(s, {"detach-client", "-t", a.tty, "-E", "touch " + marker.path});
    EXPECT_EQ(r.status, 0) << r.both();

    EXPECT_TRUE(wait_until([&] { return client_of(s, guest.uid).empty(); }))
        << "the guest's client is still attached";
    EXPECT_TRUE(wait_until([&] { return !proc_is_alive(a.client); }))
        << "the guest's tmux client lives on";
    EXPECT_NE(shell_status_wait(o, "END"), "") << "the wrapper did not end:\n" << outer_capture(o);
    EXPECT_TRUE(shell_sync(o)) << "the guest's shell is gone:\n" << outer_capture(o);
    watch.stop();
    EXPECT_FALSE(fs::exists(marker.path)) << "detach-client -E ran a command as the guest";
    EXPECT_FALSE(watch.lost()) << "the kernel dropped process events; the exec list is incomplete";
    EXPECT_EQ(watch.execs_under(a.wrapper), (std::vector<pid_t>{a.wrapper, a.client}))
        << "a process under the wrapper exec'd something besides the wrapper and tmux";
}

// 2. Root, standing in for the owner, keeps every terminal the server holds
// while the guest is attached. The guest's real terminal is not among them,
// and after he detached, TIOCSTI into what was kept reaches nothing.
TEST_F(GuestE2E, KeptTerminalAfterDetachInjectsNothing)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.tiocsti", guest);
    ASSERT_FALSE(HasFatalFailure());
    const ScopedPath marker{"/tmp/" + World::get().unique_name("tiocsti-marker")};
    Outer o = guest_shell(guest);
    const std::string real_tty = pane_tty(o);
    ASSERT_EQ(real_tty.rfind("/dev/pts/", 0), 0u) << real_tty;

    LogMark mark = log_mark();
    outer_type(o, attach_line(s, "END"));
    Attached a;
    ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
    KeptTerminals kept(s.server_pid);
    EXPECT_TRUE(kept.holds(a.tty)) << "the server's fds: " << kept.paths() << "; client " << a.tty;
    EXPECT_FALSE(kept.holds(real_tty))
        << "the server holds the guest's real terminal " << real_tty << ": " << kept.paths();

    outer_keys(o, {"C-b", "d"});
    ASSERT_EQ(shell_status_wait(o, "END"), "0") << outer_capture(o);
    // The relay closed the pty's master: what the server kept is hung up.
    EXPECT_EQ(kept.inject("touch " + marker.path + "\n"), 0) << "bytes went into a kept terminal";
    ASSERT_TRUE(shell_sync(o)) << outer_capture(o);
    const std::string pane = outer_capture(o);
    EXPECT_FALSE(fs::exists(marker.path)) << "injected input ran in the guest's shell";
    EXPECT_FALSE(contains(pane, marker.path)) << "injected input reached the guest's terminal:\n"
                                              << pane;
}

// 2, control: a plain `tmux attach` (root's, in another outer pane) hands
// the server the real terminal, the environment and the working directory;
// the same injection after detach runs in that shell. The checks of the
// guest's tests see each of these when it happens.
TEST_F(GuestE2E, ControlPlainAttachHandsOverTerminalEnvironmentAndCwd)
{
    Share s = share_for("g.control", user("viewer"));
    ASSERT_FALSE(HasFatalFailure());
    const ScopedPath marker{"/tmp/" + World::get().unique_name("control-marker")};
    const ScopedPath dir{scratch_dir_make()};
    ASSERT_NE(dir.path, "");
    const std::string cwd = dir.path + "/" + World::get().unique_name("secret-dir");
    ASSERT_TRUE(fs::create_directory(cwd));
    const std::string secret = World::get().unique_name("control-secret");
    const std::string agent = "/tmp/" + World::get().unique_name("control-agent");
    // A hostile owner asks for the variables (serve set update-environment "").
    RunResult set =
        owner_tmux(s, {"set", "-g", "update-environment", "SSH_AUTH_SOCK SECRET_TOKEN"});
    ASSERT_EQ(set.status, 0) << set.both();
    Outer o = root_shell({"SECRET_TOKEN=" + secret, "SSH_AUTH_SOCK=" + agent});
    const std::string real_tty = pane_tty(o);

    outer_type(o, "cd " + cwd + " && tmux -S " + s.socket + " attach-session -t =" + s.session +
                      "; echo END-$?");
    std::string client;
    ASSERT_TRUE(wait_until([&] { return !(client = client_of(s, 0)).empty(); }))
        << "root's plain attach did not attach:\n"
        << outer_capture(o);
    KeptTerminals kept(s.server_pid);
    EXPECT_TRUE(kept.holds(real_tty)) << real_tty << " not among " << kept.paths();
    RunResult env = owner_tmux(s, {"show-environment", "-t", "=" + s.session});
    EXPECT_TRUE(contains(env.out, "SSH_AUTH_SOCK=" + agent)) << env.both();
    EXPECT_TRUE(contains(env.out, "SECRET_TOKEN=" + secret)) << env.both();
    EXPECT_TRUE(proc_memory_contains(s.server_pid, secret));
    EXPECT_TRUE(proc_memory_contains(s.server_pid, cwd));

    outer_keys(o, {"C-b", "d"});
    ASSERT_EQ(shell_status_wait(o, "END"), "0") << outer_capture(o);
    EXPECT_GT(kept.inject("touch " + marker.path + "\n"), 0);
    EXPECT_TRUE(wait_until([&] { return fs::exists(marker.path); }))
        << "the injection did not run in root's shell:\n"
        << outer_capture(o);
    EXPECT_TRUE(contains(outer_capture(o), marker.path)) << outer_capture(o);
}

// 3. SECRET_TOKEN and SSH_AUTH_SOCK of the guest's shell reach neither the
// tmux client, nor the owner's show-environment, nor the server at all.
TEST_F(GuestE2E, GuestEnvironmentNeverReachesTheServer)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.env", guest);
    ASSERT_FALSE(HasFatalFailure());
    const std::string secret = World::get().unique_name("guest-secret");
    const std::string agent = "/tmp/" + World::get().unique_name("guest-agent");
    // A hostile owner asks for the variables (serve set update-environment "").
    RunResult set =
        owner_tmux(s, {"set", "-g", "update-environment", "SSH_AUTH_SOCK SECRET_TOKEN"});
    ASSERT_EQ(set.status, 0) << set.both();
    Outer o = guest_shell(guest, {"SECRET_TOKEN=" + secret, "SSH_AUTH_SOCK=" + agent});

    LogMark mark = log_mark();
    outer_type(o, attach_line(s, "END"));
    Attached a;
    ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
    const std::string handed = proc_environ_text(a.wrapper);
    ASSERT_TRUE(contains(handed, "SECRET_TOKEN=" + secret) && contains(handed, agent))
        << "the guest's shell did not hand the wrapper the variables:\n"
        << handed;

    const std::string client_env = proc_environ_text(a.client);
    EXPECT_FALSE(contains(client_env, secret)) << client_env;
    EXPECT_FALSE(contains(client_env, "SSH_AUTH_SOCK")) << client_env;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"show-environment", "-g"}, {"show-environment", "-t", "=" + s.session}}) {
        RunResult r = owner_tmux(s, args);
        EXPECT_EQ(r.status, 0) << r.both();
        // "-SSH_AUTH_SOCK" is tmux's removal marker; a value is "NAME=VALUE".
        for (const std::string& leaked : {std::string("SECRET_TOKEN="), secret,
                                          std::string("SSH_AUTH_SOCK="), agent})
            EXPECT_FALSE(contains(r.out, leaked)) << leaked << " reached the owner:\n" << r.out;
    }
    EXPECT_TRUE(proc_memory_contains(s.server_pid, s.session)) << "the memory scan sees nothing";
    EXPECT_FALSE(proc_memory_contains(s.server_pid, secret)) << "the server was sent SECRET_TOKEN";
    EXPECT_FALSE(proc_memory_contains(s.server_pid, agent)) << "the server was sent SSH_AUTH_SOCK";
}

// 4. The guest attaches from a private directory: the client runs in /, and
// the server never learns the directory.
TEST_F(GuestE2E, GuestWorkingDirectoryStaysPrivate)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.cwd", guest);
    ASSERT_FALSE(HasFatalFailure());
    const std::string dir = guest.home + "/" + World::get().unique_name("secret-dir");
    Outer o = guest_shell(guest);

    LogMark mark = log_mark();
    outer_type(o, "mkdir " + dir + " && cd " + dir + " && " + attach_line(s, "END"));
    Attached a;
    ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
    ASSERT_EQ(link_read("/proc/" + std::to_string(a.wrapper) + "/cwd"), dir)
        << "the guest did not run the wrapper from " << dir;
    EXPECT_EQ(link_read("/proc/" + std::to_string(a.client) + "/cwd"), "/");
    EXPECT_TRUE(proc_memory_contains(s.server_pid, s.session)) << "the memory scan sees nothing";
    EXPECT_FALSE(proc_memory_contains(s.server_pid, dir)) << "the server was told " << dir;
}

// 5. The guest's terminal is as it was (stty -g) after every way out.
TEST_F(GuestE2E, TerminalRestoredAfterNormalDetach)
{
    terminal_restored_after(Ending::detach, "g.stty-detach");
}

TEST_F(GuestE2E, TerminalRestoredAfterTheServerDies)
{
    terminal_restored_after(Ending::server_killed, "g.stty-kill");
}

TEST_F(GuestE2E, TerminalRestoredAfterSigtermToTheWrapper)
{
    terminal_restored_after(Ending::sigterm, "g.stty-term");
}

TEST_F(GuestE2E, TerminalRestoredAfterSighupToTheWrapper)
{
    terminal_restored_after(Ending::sighup, "g.stty-hup");
}

// 6. Resizing the guest's terminal resizes his client and the owner's pane.
TEST_F(GuestE2E, WindowSizeChangesReachThePane)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.size", guest);
    ASSERT_FALSE(HasFatalFailure());
    Outer o = guest_shell(guest);
    LogMark mark = log_mark();
    outer_type(o, attach_line(s, "END"));
    Attached a;
    ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
    const std::string uid = std::to_string(guest.uid);
    auto client_size = [&] {
        RunResult r = owner_tmux(
            s, {"list-clients", "-F", "#{client_uid} #{client_width}x#{client_height}"});
        for (const auto& line : split_lines(r.out)) {
            if (line.rfind(uid + " ", 0) == 0)
                return line.substr(uid.size() + 1);
        }
        return std::string();
    };
    EXPECT_TRUE(wait_until([&] { return client_size() == "160x40"; })) << client_size();

    int round = 0;
    for (const auto& [w, h] : std::vector<std::pair<int, int>>{{100, 30}, {132, 40}}) {
        const std::string size = std::to_string(w) + "x" + std::to_string(h);
        SCOPED_TRACE(size);
        RunResult r = proc_run({"tmux", "-L", o.name, "resize-window", "-t", "=outer:", "-x",
                                std::to_string(w), "-y", std::to_string(h)});
        ASSERT_EQ(r.status, 0) << r.both();
        EXPECT_TRUE(wait_until([&] { return client_size() == size; }))
            << "the guest's client is " << client_size();
        EXPECT_TRUE(wait_until([&] {
            return line_trim(owner_tmux(s, {"display-message", "-p", "-t", "=" + s.session + ":",
                                            "#{window_width}"})
                                 .out) == std::to_string(w);
        }));
        EXPECT_TRUE(pane_columns_reach(s, w, round)) << owner_pane(s);
    }
}

// 7. The relay gave up the gate group for good; the client keeps it as its
// effective gid only, confined and without new privileges.
TEST_F(GuestE2E, RelayHoldsNoGateAndTheClientIsConfined)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.ids", guest);
    ASSERT_FALSE(HasFatalFailure());
    Outer o = guest_shell(guest);
    LogMark mark = log_mark();
    outer_type(o, attach_line(s, "END"));
    Attached a;
    ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
    const std::string gid = std::to_string(guest.gid);
    const std::string gate = std::to_string(World::get().gate_gid());

    EXPECT_EQ(proc_status_fields(a.wrapper, "Gid"), std::vector<std::string>(4, gid))
        << "the relay still holds the gate group " << gate;
    std::vector<std::string> groups = proc_status_fields(a.wrapper, "Groups");
    EXPECT_EQ(std::find(groups.begin(), groups.end(), gate), groups.end());
    EXPECT_EQ(proc_status_fields(a.wrapper, "NoNewPrivs"), std::vector<std::string>{"1"});
    EXPECT_EQ(proc_status_fields(a.wrapper, "Seccomp"), std::vector<std::string>{"2"});

    // The monitor between them waits and relays stops; it holds no gate either.
    EXPECT_EQ(proc_status_fields(a.monitor, "Gid"), std::vector<std::string>(4, gid))
        << "the monitor still holds the gate group " << gate;
    EXPECT_EQ(proc_status_fields(a.monitor, "Seccomp"), std::vector<std::string>{"2"});

    EXPECT_EQ(proc_status_fields(a.client, "Gid"),
              (std::vector<std::string>{gid, gate, gate, gate}));
    EXPECT_EQ(proc_status_fields(a.client, "NoNewPrivs"), std::vector<std::string>{"1"});
    EXPECT_EQ(proc_status_fields(a.client, "Seccomp"), std::vector<std::string>{"2"});
}

// Job control: tmux's suspend-client (C-b C-z) stops the guest's client;
// the monitor and the wrapper stop with it, the guest's shell gets his
// terminal back as it was; `bg` leaves it to the shell, and `fg` resumes
// the attach with the keys reaching tmux again.
TEST_F(GuestE2E, SuspendClientStopsTheAttachAndFgResumesIt)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.suspend", guest, "interact");  // a read-only client may not suspend
    ASSERT_FALSE(HasFatalFailure());
    Outer o = guest_shell(guest);
    const std::string tty = pane_tty(o);
    LogMark mark = log_mark();
    // The wrapper alone on its line: a stopped job would let the shell go
    // on to the rest of a list.
    outer_type(o, path_attach() + " " + s.name);
    Attached a;
    ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
    ASSERT_TRUE(wait_until([&] { return tty_is_raw(tty); }));

    outer_keys(o, {"C-b", "C-z"});
    EXPECT_TRUE(wait_until([&] {
        return proc_state(a.client) == 'T' && proc_state(a.monitor) == 'T' &&
               proc_state(a.wrapper) == 'T';
    })) << "client " << proc_state(a.client) << ", monitor " << proc_state(a.monitor)
        << ", wrapper " << proc_state(a.wrapper) << "\n" << outer_capture(o);
    EXPECT_TRUE(wait_until([&] { return !tty_is_raw(tty); }))
        << "the terminal stayed raw while the attach was stopped";
    EXPECT_TRUE(shell_sync(o)) << "the shell did not get the terminal back:\n" << outer_capture(o);

    // `bg`: the attach runs on without the terminal; the shell keeps it,
    // cooked, and answers.
    outer_type(o, "bg");
    EXPECT_TRUE(wait_until([&] { return proc_state(a.wrapper) != 'T'; })) << outer_capture(o);
    EXPECT_TRUE(shell_sync(o)) << "the shell lost its terminal after bg:\n" << outer_capture(o);
    EXPECT_FALSE(tty_is_raw(tty)) << "a background attach made the shell's terminal raw";

    outer_type(o, "fg; echo FG-$?");
    EXPECT_TRUE(wait_until([&] {
        return proc_state(a.client) != 'T' && proc_state(a.monitor) != 'T' &&
               proc_state(a.wrapper) != 'T';
    })) << outer_capture(o);
    EXPECT_TRUE(wait_until([&] { return tty_is_raw(tty); })) << "raw mode not back after fg";
    EXPECT_EQ(client_of(s, guest.uid).empty(), false) << "the client is gone after fg";
    outer_keys(o, {"C-b", "d"});
    EXPECT_EQ(shell_status_wait(o, "FG"), "0") << outer_capture(o);
}

// 8. A wrapper whose filter does not load (the test build
// tmuxguard-attach-confine-fail, installed setgid like the real one) does
// not attach: exit 3, one line, a deny record, no client on the server.
TEST_F(GuestE2E, FilterThatFailsToLoadMeansNoAttach)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.confine", guest);
    ASSERT_FALSE(HasFatalFailure());
    const ScopedPath bin{path_prefix() + "/bin/tmuxguard-attach-confine-fail"};
    ASSERT_FALSE(fs::exists(bin.path)) << "cmake --install installed the test build";
    std::error_code ec;
    fs::copy_file(TG_CONFINE_FAIL_ATTACH, bin.path, fs::copy_options::overwrite_existing, ec);
    ASSERT_FALSE(ec) << TG_CONFINE_FAIL_ATTACH << ": " << ec.message();
    ASSERT_EQ(chown(bin.path.c_str(), 0, World::get().gate_gid()), 0) << std::strerror(errno);
    ASSERT_EQ(chmod(bin.path.c_str(), 02755), 0) << std::strerror(errno);

    // The policy lets him in: only the filter stands between.
    expect_allowed(proc_run_as(guest.name, {bin.path, "-n", s.name}), "view");
    LogMark mark = log_mark();
    RunResult r = proc_run_as(guest.name, {bin.path, s.name});
    expect_denied(r, "confine-failed");
    auto rec = log_record_of(mark, r.pid);
    ASSERT_NO_FATAL_FAILURE(expect_record(rec, "deny", "confine-failed", "view"));
    EXPECT_EQ(rec->get("event"), "attach") << rec->line;
    EXPECT_EQ(log_lines_since(mark).size(), 1u) << "one attempt, one record";
    EXPECT_EQ(share_clients(s), std::vector<std::string>{}) << "a client reached the server";
}

// 9. The policy permits the guest but the owner took him off the server's
// own list: tmux says "access not allowed" and exits 0; the wrapper makes
// that exit 1, one line, and a deny record after its allow record.
TEST_F(GuestE2E, ServerRefusalIsALoggedDenial)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.refused", guest);
    ASSERT_FALSE(HasFatalFailure());
    RunResult r = owner_tmux(s, {"server-access", "-d", guest.name});
    ASSERT_EQ(r.status, 0) << r.both();

    LogMark mark = log_mark();
    r = attach_plain(guest, {s.name});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: denied: server-refused\n") << r.both();
    EXPECT_TRUE(contains(r.out, "access not allowed")) << "what tmux told the guest:\n" << r.both();
    std::vector<Record> mine;
    for (const auto& line : log_lines_since(mark)) {
        auto fields = json_parse_flat(line);
        if (fields && (*fields)["pid"].text == std::to_string(r.pid))
            mine.push_back(Record{std::move(*fields), line});
    }
    ASSERT_EQ(mine.size(), 2u) << "records of pid " << r.pid;
    EXPECT_EQ(mine[0].get("decision"), "allow") << mine[0].line;
    EXPECT_EQ(mine[1].get("decision"), "deny") << mine[1].line;
    EXPECT_EQ(mine[1].get("reason"), "server-refused") << mine[1].line;
    EXPECT_EQ(mine[1].get("share"), s.name) << mine[1].line;
    EXPECT_FALSE(share_has_client(s, guest.uid));
}

// 10. A normal detach: exit status 0, and the guest's shell takes input again.
TEST_F(GuestE2E, NormalDetachExitsZeroAndGivesThePromptBack)
{
    const Account& guest = user("viewer");
    Share s = share_for("g.exit", guest);
    ASSERT_FALSE(HasFatalFailure());
    Outer o = guest_shell(guest);
    LogMark mark = log_mark();
    outer_type(o, attach_line(s, "END"));
    Attached a;
    ASSERT_NO_FATAL_FAILURE(attached_wait(s, guest, mark, o, a));
    outer_keys(o, {"C-b", "d"});
    EXPECT_EQ(shell_status_wait(o, "END"), "0") << outer_capture(o);
    EXPECT_TRUE(contains(outer_capture(o), "[detached (from session " + s.session + ")]"))
        << outer_capture(o);
    EXPECT_TRUE(shell_sync(o)) << "no prompt after the detach:\n" << outer_capture(o);
    EXPECT_FALSE(proc_is_alive(a.wrapper));
    EXPECT_FALSE(proc_is_alive(a.client));
}

}  // namespace tge2e
