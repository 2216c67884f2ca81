// The pty relay (relay.hpp), clause by clause, with real pseudo-terminals.
// The guest's terminal is a pty pair the test owns: the test is the
// terminal emulator on its master, the relay gets its slave. The relay runs
// in a forked "wrapper" process (it blocks signals and may stop itself); its
// child is pty_monitor_run() on the relay's pty, and the client under the
// monitor is a /bin/sh script, as tmuxguard-attach runs tmux. The test
// signals only the pids it started (wrapper, monitor, client), never a
// process group.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tmuxguard/confine.hpp"
#include "tmuxguard/relay.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The guest's window size before any test changes it.
constexpr unsigned short kRows = 41;
constexpr unsigned short kCols = 137;

// A pty pair: the master is the terminal emulator's side.
struct Terminal {
    tg::UniqueFd master;
    tg::UniqueFd slave;
};

Terminal terminal_open()
{
    Terminal t;
    t.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!t.master.valid() || ::grantpt(t.master.get()) != 0 || ::unlockpt(t.master.get()) != 0)
        return {};
    t.slave.reset(::ioctl(t.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    return t;
}

// A guest terminal set up the way nobody's default is: no echo, ^A as the
// interrupt character, no CR-to-NL, UTF-8, 9600 baud, and an unusual size.
void terminal_make_distinctive(int fd)
{
    struct termios t {};
    ::tcgetattr(fd, &t);
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK);
    t.c_iflag &= ~static_cast<tcflag_t>(ICRNL);
    t.c_iflag |= IUTF8;
    t.c_cc[VINTR] = 0x01;
    t.c_cc[VKILL] = 0x0b;
    ::cfsetspeed(&t, B9600);
    ::tcsetattr(fd, TCSANOW, &t);
    struct winsize ws {kRows, kCols, 0, 0};
    ::ioctl(fd, TIOCSWINSZ, &ws);
}

bool termios_same(const struct termios& a, const struct termios& b)
{
    return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag &&
           a.c_lflag == b.c_lflag && std::memcmp(a.c_cc, b.c_cc, sizeof a.c_cc) == 0 &&
           ::cfgetispeed(&a) == ::cfgetispeed(&b) && ::cfgetospeed(&a) == ::cfgetospeed(&b);
}

struct termios termios_of(int fd)
{
    struct termios t {};
    ::tcgetattr(fd, &t);
    return t;
}

bool termios_is_raw(const struct termios& t)
{
    return (t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) == 0 && (t.c_oflag & OPOST) == 0 &&
           (t.c_iflag & (ICRNL | IXON)) == 0;
}

struct winsize winsize_of(int fd)
{
    struct winsize ws {};
    ::ioctl(fd, TIOCGWINSZ, &ws);
    return ws;
}

// The state letter of /proc/PID/stat (R, S, T, Z, ...), or '?' when gone.
char process_state(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos || stat.size() < close + 3)
        return '?';
    return stat[close + 2];
}

// Where process `pid` sleeps in the kernel.
std::string process_wchan(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/wchan");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Polls `done` every 10 ms for up to `limit`.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms)
{
    const auto until = Clock::now() + limit;
    while (!done()) {
        if (Clock::now() > until)
            return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

// What the wrapper tells the test about relay_run().
struct Report {
    int ok = 0;  // 1: relay_run() returned a value
    int status = -1;
    int refused = 0;
    int signal = 0;
};

struct RunOptions {
    bool confined = false;  // confine_exec_once() before the fork, as tmuxguard-attach does
    bool setgid_like = false;  // the wrapper runs as a guest with the gate as egid
};

constexpr gid_t kRealGid = 54411;
constexpr gid_t kGateGid = 54412;
constexpr uid_t kGuestUid = 54413;

// The pids of `pid`'s children.
std::vector<pid_t> children_of(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    std::vector<pid_t> out;
    for (pid_t c; in >> c;)
        out.push_back(c);
    return out;
}

// Field `n` (1-based, as in proc(5)) of /proc/PID/stat, or -1.
long stat_field(pid_t pid, int n)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos)
        return -1;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    for (int i = 3; i <= n && fields >> f; ++i) {
        if (i == n)
            return f == "?" ? -1 : std::strtol(f.c_str(), nullptr, 10);
    }
    return -1;
}

// The live processes of session `sid` (zombies run nothing).
std::vector<pid_t> session_members(pid_t sid)
{
    std::vector<pid_t> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        const auto pid = static_cast<pid_t>(std::stol(name));
        if (stat_field(pid, 6) == sid && process_state(pid) != 'Z')
            out.push_back(pid);
    }
    return out;
}

// "Gid:" of /proc/PID/status, tabs as spaces.
std::string gid_line(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("Gid:", 0) == 0) {
            for (char& c : line)
                c = c == '\t' ? ' ' : c;
            return line;
        }
    }
    return "";
}

std::string gids(gid_t r, gid_t e, gid_t s)
{
    return "Gid: " + std::to_string(r) + " " + std::to_string(e) + " " + std::to_string(s) + " " +
           std::to_string(e);
}

// The guest terminal, one relay in a forked wrapper, the client it runs.
class RelayRun : public ::testing::Test {
protected:
    void SetUp() override
    {
        guest_ = terminal_open();
        ASSERT_TRUE(guest_.slave.valid()) << "cannot open the guest's pty: " << std::strerror(errno);
        terminal_make_distinctive(guest_.slave.get());
        saved_ = termios_of(guest_.slave.get());
    }

    void TearDown() override
    {
        // A test that failed half-way leaves nothing running.
        if (wrapper_ > 0) {
            if (child_ > 0) {
                client_remember();
                ::kill(child_, SIGKILL);
            }
            ::kill(wrapper_, SIGKILL);
            ::waitpid(wrapper_, nullptr, 0);
        }
        if (client_ > 0 && process_state(client_) != '?' && process_state(client_) != 'Z')
            ::kill(client_, SIGKILL);
        // Whatever is left in the pty's session (the monitor led it): a
        // relay that failed to end its client must not leave it running.
        if (session_ > 0) {
            for (pid_t pid : session_members(session_))
                ::kill(pid, SIGKILL);
        }
    }

    // The client's pid, the monitor's only child (a test that may leave it
    // behind calls this while it runs).
    pid_t client_remember()
    {
        std::vector<pid_t> kids = children_of(child_);
        if (kids.size() == 1)
            client_ = kids[0];
        return client_;
    }

    // Opens the client's pty from the guest terminal (clause 1), forks the
    // wrapper that runs the client (`script`) and relays. The test keeps
    // nothing of the pty unless it asks for the server's copy of the slave.
    void start(const std::string& script, RunOptions opt = {})
    {
        auto pty = tg::pty_open(guest_.slave.get());
        ASSERT_TRUE(pty.has_value()) << pty.error().message();
        if (keep_server_slave_)
            server_slave_.reset(::fcntl(pty->slave.get(), F_DUPFD_CLOEXEC, 3));
        if (keep_master_copy_)
            master_copy_.reset(::fcntl(pty->master.get(), F_DUPFD_CLOEXEC, 3));
        int fds[2];
        ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        tg::UniqueFd report_r(fds[0]);
        tg::UniqueFd report_w(fds[1]);
        wrapper_ = ::fork();
        ASSERT_GE(wrapper_, 0);
        if (wrapper_ == 0) {
            // A process group of its own under this test process (same
            // session, other group): not orphaned, so job-control stops
            // reach it as they reach a wrapper started from a shell,
            // whatever group ctest runs the test in.
            ::setpgid(0, 0);
            report_r.reset();
            guest_.master.reset();
            server_slave_.reset();
            master_copy_.reset();
            wrapper_run(std::move(*pty), script, opt, guest_.slave.get(), report_w.get());
        }
        report_w.reset();
        report_ = std::move(report_r);
        pty->master.reset();
        pty->slave.reset();
        ASSERT_TRUE(report_read(&child_, sizeof child_, 5000ms)) << "the wrapper never forked";
        session_ = child_;
    }

    // The wrapper: what tmuxguard-attach's step 10 does, with sh for tmux.
    [[noreturn]] static void wrapper_run(tg::PtyPair pty, const std::string& script, RunOptions opt,
                                         int guest, int report)
    {
        tg::UniqueFd sh(::open("/bin/sh", O_RDONLY | O_CLOEXEC));
        if (opt.setgid_like &&
            (::setgroups(0, nullptr) != 0 || ::setresgid(kRealGid, kGateGid, kGateGid) != 0 ||
             ::setresuid(kGuestUid, kGuestUid, kGuestUid) != 0))
            ::_exit(119);
        if (opt.confined && !tg::confine_exec_once(sh.get()))
            ::_exit(120);
        sigset_t relayed = tg::relay_signals();
        ::sigprocmask(SIG_BLOCK, &relayed, nullptr);
        pid_t child = ::fork();
        if (child == 0) {
            tg::pty_monitor_run(pty.slave.release(), [&] {
                // -p: dash would otherwise set its egid back to the real gid.
                char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-p"),
                                const_cast<char*>("-c"), const_cast<char*>(script.c_str()),
                                nullptr};
                char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
                tg::confine_exec_fd(sh.get(), argv, envp);
                ::_exit(122);
            });
        }
        pty.slave.reset();
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ign, nullptr);
        (void)!::write(report, &child, sizeof child);
        auto end = tg::relay_run(guest, guest, pty.master.get(), child);
        pty.master.reset();  // the caller's part of clause 4
        Report r;
        if (end) {
            r = Report{1, end->status, end->server_refused ? 1 : 0, end->signal};
        }
        (void)!::write(report, &r, sizeof r);
        ::_exit(0);
    }

    // Reads `n` bytes of the wrapper's report, pumping the guest's output
    // meanwhile (unless `pump` is false: a guest terminal that takes nothing).
    bool report_read(void* out, std::size_t n, std::chrono::milliseconds limit, bool pump = true)
    {
        auto* p = static_cast<char*>(out);
        std::size_t got = 0;
        const auto until = Clock::now() + limit;
        while (got < n && Clock::now() < until) {
            struct pollfd fds[2] = {{report_.get(), POLLIN, 0},
                                    {pump ? guest_.master.get() : -1, POLLIN, 0}};
            if (::poll(fds, 2, 50) < 0 && errno != EINTR)
                return false;
            if (fds[1].revents & POLLIN)
                guest_drain();
            if (fds[0].revents & (POLLIN | POLLHUP)) {
                ssize_t r = ::read(report_.get(), p + got, n - got);
                if (r <= 0)
                    return false;
                got += static_cast<std::size_t>(r);
            }
        }
        return got == n;
    }

    // Whatever the guest's terminal has received so far, appended to seen_.
    void guest_drain()
    {
        char buf[65536];
        for (;;) {
            struct pollfd pf {guest_.master.get(), POLLIN, 0};
            if (::poll(&pf, 1, 0) != 1 || (pf.revents & POLLIN) == 0)
                return;
            ssize_t n = ::read(guest_.master.get(), buf, sizeof buf);
            if (n <= 0)
                return;
            seen_.append(buf, static_cast<std::size_t>(n));
        }
    }

    // Waits until the guest's terminal has shown `text`.
    bool guest_shows(const std::string& text, std::chrono::milliseconds limit = 5000ms)
    {
        return eventually(
            [&] {
                guest_drain();
                return seen_.find(text) != std::string::npos;
            },
            limit);
    }

    // The guest types `keys`.
    void type(const std::string& keys)
    {
        ASSERT_EQ(::write(guest_.master.get(), keys.data(), keys.size()),
                  static_cast<ssize_t>(keys.size()));
    }

    bool guest_raw()
    {
        return eventually([&] { return termios_is_raw(termios_of(guest_.slave.get())); });
    }

    bool guest_restored()
    {
        return termios_same(termios_of(guest_.slave.get()), saved_);
    }

    // The relay's report once it has returned, and the wrapper reaped.
    Report finish(std::chrono::milliseconds limit = 10000ms)
    {
        Report r;
        const bool got = report_read(&r, sizeof r, limit);
        EXPECT_TRUE(got) << "relay_run() did not return within " << limit.count() << " ms";
        if (!got)
            return Report{};
        int st = 0;
        ::waitpid(wrapper_, &st, 0);
        wrapper_ = -1;
        child_ = -1;
        guest_drain();
        return r;
    }

    Terminal guest_;
    struct termios saved_ {};
    bool keep_server_slave_ = false;
    bool keep_master_copy_ = false;
    tg::UniqueFd server_slave_;  // what a server keeps of the client's tty
    tg::UniqueFd master_copy_;
    tg::UniqueFd report_;
    pid_t wrapper_ = -1;
    pid_t child_ = -1;   // the monitor
    pid_t client_ = -1;  // the monitor's child, once a test asked for it
    pid_t session_ = -1;  // the pty's session: the monitor's pid
    std::string seen_;  // everything the guest's terminal received
};

// ---- clause 1: pty_open() ----

TEST_F(RelayRun, Clause1_PtyOpenGivesAMasterAndItsTerminalSlave)
{
    auto pty = tg::pty_open(guest_.slave.get());
    ASSERT_TRUE(pty.has_value()) << pty.error().message();
    ASSERT_TRUE(pty->master.valid());
    ASSERT_TRUE(pty->slave.valid());
    EXPECT_EQ(::isatty(pty->slave.get()), 1);
    EXPECT_NE(::ptsname(pty->master.get()), nullptr);
    // The slave is the master's own peer: bytes written on it come out of the master.
    ASSERT_EQ(::write(pty->slave.get(), "peer", 4), 4);
    struct pollfd pf {pty->master.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&pf, 1, 2000), 1);
    char buf[16] {};
    EXPECT_EQ(::read(pty->master.get(), buf, sizeof buf), 4);
    EXPECT_STREQ(buf, "peer");
    // Neither end leaks into an exec.
    EXPECT_EQ(::fcntl(pty->master.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    EXPECT_EQ(::fcntl(pty->slave.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(RelayRun, Clause1_SlaveStartsWithTheGuestTermiosWithoutEcho)
{
    auto pty = tg::pty_open(guest_.slave.get());
    ASSERT_TRUE(pty.has_value()) << pty.error().message();
    struct termios want = saved_;
    want.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);  // typeahead is no output
    EXPECT_TRUE(termios_same(termios_of(pty->slave.get()), want));
}

// A fresh pty does not look like the guest's terminal: the test above can fail.
TEST_F(RelayRun, Control_AFreshPtyHasOtherTermiosAndSize)
{
    Terminal fresh = terminal_open();
    ASSERT_TRUE(fresh.slave.valid());
    EXPECT_FALSE(termios_same(termios_of(fresh.slave.get()), saved_));
    EXPECT_NE(winsize_of(fresh.slave.get()).ws_col, kCols);
}

TEST_F(RelayRun, Clause1_SlaveStartsWithTheGuestWindowSize)
{
    auto pty = tg::pty_open(guest_.slave.get());
    ASSERT_TRUE(pty.has_value()) << pty.error().message();
    struct winsize ws = winsize_of(pty->slave.get());
    EXPECT_EQ(ws.ws_row, kRows);
    EXPECT_EQ(ws.ws_col, kCols);
}

// Standard input that is not a terminal still gets a working pty.
TEST_F(RelayRun, Clause1_GuestWithoutATerminalStillGetsAPty)
{
    tg::UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto pty = tg::pty_open(null.get());
    ASSERT_TRUE(pty.has_value()) << pty.error().message();
    EXPECT_EQ(::isatty(pty->slave.get()), 1);
}

// ---- pty_slave_adopt() ----

// In a new session, the slave becomes the controlling terminal and fds 0-2.
TEST_F(RelayRun, SlaveAdopt_BecomesTheControllingTerminalAndFds0To2)
{
    auto pty = tg::pty_open(guest_.slave.get());
    ASSERT_TRUE(pty.has_value()) << pty.error().message();
    struct stat slave_st {};
    ASSERT_EQ(::fstat(pty->slave.get(), &slave_st), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (::setsid() < 0 || !tg::pty_slave_adopt(pty->slave.release()))
            ::_exit(10);
        int result = 0;
        for (int fd = 0; fd <= 2; ++fd) {
            struct stat st {};
            if (::fstat(fd, &st) != 0 || st.st_rdev != slave_st.st_rdev)
                result |= 1;
        }
        // Its session's terminal, with the caller in the foreground (no SIGTTIN on reads).
        if (::tcgetsid(0) != ::getsid(0) || ::tcgetpgrp(0) != ::getpgrp())
            result |= 2;
        // /dev/tty is the controlling terminal: what goes in comes out of the master.
        int tty = ::open("/dev/tty", O_WRONLY | O_NOCTTY);
        if (tty < 0 || ::write(tty, "via-dev-tty", 11) != 11)
            result |= 4;
        // The seventh field of /proc/self/stat is the controlling tty's number.
        std::ifstream in("/proc/self/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));
        std::string state, ppid, pgrp, session;
        unsigned long tty_nr = 0;
        fields >> state >> ppid >> pgrp >> session >> tty_nr;
        if (tty_nr != slave_st.st_rdev)
            result |= 8;
        ::_exit(result);
    }
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0) << "bits: 1 fds 0-2, 2 session or foreground, 4 /dev/tty, 8 tty_nr";
    struct pollfd pf {pty->master.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&pf, 1, 2000), 1);
    char buf[64] {};
    ASSERT_GT(::read(pty->master.get(), buf, sizeof buf - 1), 0);
    EXPECT_NE(std::strstr(buf, "via-dev-tty"), nullptr) << buf;
}

// Without adopting it, a new session has no terminal: the test above can fail.
TEST_F(RelayRun, Control_WithoutAdoptANewSessionHasNoTerminal)
{
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (::setsid() < 0)
            ::_exit(10);
        ::_exit(::open("/dev/tty", O_RDWR | O_NOCTTY) < 0 ? 0 : 11);
    }
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// Outside a new session there is nothing to adopt: false, not a stolen tty.
TEST_F(RelayRun, SlaveAdopt_FailsWhenTheCallerLeadsNoSession)
{
    auto pty = tg::pty_open(guest_.slave.get());
    ASSERT_TRUE(pty.has_value()) << pty.error().message();
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
        ::_exit(tg::pty_slave_adopt(pty->slave.release()) ? 10 : 0);
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// ---- clause 2: gate_drop_for_good() ----

// A child that looks like the setgid wrapper run by a guest: real gid R,
// effective and saved gid the gate, no root. `body` returns its exit status.
int as_setgid_wrapper(const std::function<int()>& body)
{
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(kRealGid, kGateGid, kGateGid) != 0 ||
            ::setresuid(kGuestUid, kGuestUid, kGuestUid) != 0)
            ::_exit(100);
        ::_exit(body());
    }
    int st = 0;
    if (pid < 0 || ::waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

TEST(GateDrop, Clause2_AllGidsBecomeTheRealGidAndTheGateCannotBeRegained)
{
    ASSERT_EQ(::geteuid(), 0u) << "this test needs root (it sets up a setgid-like child)";
    const std::string want = gids(kRealGid, kRealGid, kRealGid);
    int status = as_setgid_wrapper([&] {
        if (!tg::gate_drop_for_good())
            return 10;
        if (gid_line(::getpid()) != want)
            return 11;
        if (::setresgid(static_cast<gid_t>(-1), kGateGid, static_cast<gid_t>(-1)) == 0)
            return 12;
        return errno == EPERM ? 0 : 13;
    });
    EXPECT_EQ(status, 0) << "10 refused, 11 " << want << " expected, 12/13 the gate came back";
}

// Dropping only the effective gid leaves the gate in the saved gid, from
// where it comes back: what the test above rules out.
TEST(GateDrop, Control_DroppingOnlyTheEffectiveGidCanBeUndone)
{
    ASSERT_EQ(::geteuid(), 0u) << "this test needs root (it sets up a setgid-like child)";
    int status = as_setgid_wrapper([] {
        if (::setresgid(static_cast<gid_t>(-1), kRealGid, static_cast<gid_t>(-1)) != 0)
            return 10;
        if (::setresgid(static_cast<gid_t>(-1), kGateGid, static_cast<gid_t>(-1)) != 0)
            return 11;
        return ::getegid() == kGateGid ? 0 : 12;
    });
    EXPECT_EQ(status, 0);
}

// Root can always take the gate back: the proof fails, and so does the drop.
TEST(GateDrop, Clause2_ARegainableGateIsAFailure)
{
    ASSERT_EQ(::geteuid(), 0u) << "this test needs root (it keeps CAP_SETGID)";
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (::setresgid(kRealGid, kGateGid, kGateGid) != 0)
            ::_exit(100);
        auto r = tg::gate_drop_for_good();
        ::_exit(!r && r.error().reason == "gate-drop-failed" ? 0 : 10);
    }
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// ---- clause 3: relay_run() ----

// The client echoes each line back with a prefix (so an echo of the
// guest's own keys cannot pass for it).
constexpr const char* kEchoClient = "echo ready; while read l; do echo \"got:$l\"; done";

TEST_F(RelayRun, Clause3_KeysReachTheClientAndItsOutputTheGuest)
{
    start(kEchoClient);
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    type("ping-4711\n");
    EXPECT_TRUE(guest_shows("got:ping-4711")) << "the guest saw: " << seen_;
    type("\x04");  // EOF at the start of a line ends `read`, then the loop
    Report r = finish();
    EXPECT_EQ(r.ok, 1);
    EXPECT_EQ(r.status, 0);
}

TEST_F(RelayRun, Clause3_GuestTerminalIsRawDuringTheRelay)
{
    start(kEchoClient);
    ASSERT_TRUE(guest_shows("ready"));
    EXPECT_TRUE(guest_raw()) << "the guest's terminal was never put in raw mode";
    struct termios t = termios_of(guest_.slave.get());
    EXPECT_EQ(t.c_lflag & (ICANON | ECHO | ISIG), 0u);
    ::kill(wrapper_, SIGTERM);
    finish();
}

TEST_F(RelayRun, Clause3_TerminalRestoredWhenTheClientEnds)
{
    start("read l; echo \"got:$l\"; exit 0");
    ASSERT_TRUE(guest_raw());
    type("bye\n");
    Report r = finish();
    EXPECT_EQ(r.ok, 1);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.signal, 0);
    EXPECT_TRUE(guest_restored());
}

// The guest's terminal was really changed: restoring it is not a no-op.
TEST_F(RelayRun, Control_RawModeDiffersFromTheGuestTermios)
{
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    EXPECT_FALSE(termios_same(raw, saved_));
}

// Each terminating signal to the relay: the client is hung up (sh dies of
// SIGHUP), the signal is reported, the terminal is as the guest had it.
class RelaySignal : public RelayRun, public ::testing::WithParamInterface<int> {};

TEST_P(RelaySignal, Clause3_TerminalRestoredAndClientHungUp)
{
    const int sig = GetParam();
    start(kEchoClient);
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    ASSERT_EQ(::kill(wrapper_, sig), 0);
    Report r = finish();
    EXPECT_EQ(r.ok, 1);
    EXPECT_EQ(r.signal, sig);
    EXPECT_EQ(r.status, 128 + SIGHUP);
    EXPECT_TRUE(guest_restored());
}

INSTANTIATE_TEST_SUITE_P(Relay, RelaySignal, ::testing::Values(SIGTERM, SIGHUP, SIGINT, SIGQUIT),
                         [](const ::testing::TestParamInfo<int>& p) {
                             return std::string(sigabbrev_np(p.param));
                         });

// A client that ignores the hangup is killed after the grace period.
TEST_F(RelayRun, Clause3_ClientIgnoringTheHangupIsKilled)
{
    start("trap '' HUP; echo ready; while :; do sleep 0.1; done");
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    const pid_t client = client_remember();
    ASSERT_GT(client, 0);
    ASSERT_EQ(::kill(wrapper_, SIGTERM), 0);
    Report r = finish();
    EXPECT_EQ(r.ok, 1);
    EXPECT_EQ(r.signal, SIGTERM);
    EXPECT_EQ(r.status, 128 + SIGKILL);
    EXPECT_TRUE(guest_restored());
    // Gone, or a zombie (its parent, the monitor, may have died first).
    EXPECT_TRUE(eventually([&] { return process_state(client) == '?' || process_state(client) == 'Z'; },
                           1000ms))
        << "the client that ignored SIGHUP outlived the relay (state "
        << process_state(client) << ")";
}

TEST_F(RelayRun, Clause3_WindowSizeChangeReachesTheClient)
{
    keep_server_slave_ = true;
    start("trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done");
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    struct winsize ws {52, 163, 0, 0};
    ASSERT_EQ(::ioctl(guest_.slave.get(), TIOCSWINSZ, &ws), 0);
    ASSERT_EQ(::kill(wrapper_, SIGWINCH), 0);
    EXPECT_TRUE(guest_shows("52 163")) << "the client saw no new size; the guest saw: " << seen_;
    EXPECT_EQ(winsize_of(server_slave_.get()).ws_col, 163);
    ::kill(wrapper_, SIGTERM);
    finish();
}

// The client stops itself the only way an orphaned process group can:
// the relay stops with the terminal restored, SIGCONT brings both back.
TEST_F(RelayRun, Clause3_StoppedClientStopsTheRelayWithTheTerminalRestored)
{
    start("echo ready; read l; kill -STOP $$; echo resumed; read l; echo \"got:$l\"");
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    type("stop\n");
    ASSERT_TRUE(eventually([&] { return process_state(wrapper_) == 'T'; }))
        << "the relay did not stop with its client";
    EXPECT_TRUE(guest_restored()) << "stopped with the guest's terminal still raw";
    ASSERT_EQ(::kill(wrapper_, SIGCONT), 0);
    EXPECT_TRUE(guest_shows("resumed")) << "the client was not continued";
    EXPECT_TRUE(guest_raw()) << "raw mode did not come back";
    type("again\n");
    EXPECT_TRUE(guest_shows("got:again"));
    Report r = finish();
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(guest_restored());
}

// tmux's suspend-client does kill(getpid(), SIGTSTP). The relay must follow
// it (clause 3: "a stopped client stops the relay").
TEST_F(RelayRun, Clause3_ClientSuspendingItselfWithSigtstpStopsTheRelay)
{
    start("echo ready; read l; kill -TSTP $$; echo after-tstp; read l; exit 0");
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    type("suspend\n");
    EXPECT_TRUE(eventually([&] { return process_state(wrapper_) == 'T'; }, 3000ms))
        << "SIGTSTP did not stop the client (its process group is orphaned), so the relay "
           "never stopped; the client went on: "
        << seen_;
    ::kill(wrapper_, SIGCONT);
    type("end\n");
    finish();
}

TEST_F(RelayRun, Clause3_SigtstpToTheRelayRestoresTheTerminalAndStops)
{
    start(kEchoClient);
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    ASSERT_EQ(::kill(wrapper_, SIGTSTP), 0);
    ASSERT_TRUE(eventually([&] { return process_state(wrapper_) == 'T'; }));
    EXPECT_TRUE(guest_restored());
    ASSERT_EQ(::kill(wrapper_, SIGCONT), 0);
    EXPECT_TRUE(guest_raw()) << "SIGCONT did not put raw mode back";
    EXPECT_NE(process_state(wrapper_), 'T');
    type("after-cont\n");
    EXPECT_TRUE(guest_shows("got:after-cont")) << "the relay does not relay after SIGCONT";
    ::kill(wrapper_, SIGTERM);
    Report r = finish();
    EXPECT_TRUE(guest_restored());
    EXPECT_EQ(r.signal, SIGTERM);
}

// The guest's terminal goes away (its emulator closed): writing to it fails,
// the relay hangs the client up and ends.
TEST_F(RelayRun, Clause3_GuestTerminalGoneHangsUpTheClient)
{
    start("while :; do echo tick; sleep 0.1; done");
    ASSERT_TRUE(guest_shows("tick"));
    guest_.master.reset();
    Report r;
    ASSERT_TRUE(report_read(&r, sizeof r, 10000ms)) << "the relay outlived the guest's terminal";
    ::waitpid(wrapper_, nullptr, 0);
    wrapper_ = -1;
    EXPECT_EQ(r.ok, 1);
    EXPECT_EQ(r.status, 128 + SIGHUP);
}

// A client that reads nothing while the guest types a lot fills the pty;
// SIGTERM must still end the relay and give the guest the terminal back.
TEST_F(RelayRun, Clause3_SigtermEndsTheRelayWhenTheClientReadsNothing)
{
    start("stty raw -echo; echo ready; exec sleep 1000");
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    // Type until nothing more goes in for 300 ms: every buffer on the way
    // to the client is full.
    ASSERT_EQ(::fcntl(guest_.master.get(), F_SETFL, O_NONBLOCK), 0);
    const std::string block(4096, 'k');
    auto last_taken = Clock::now();
    for (auto until = Clock::now() + 5s; Clock::now() < until;) {
        if (::write(guest_.master.get(), block.data(), block.size()) > 0)
            last_taken = Clock::now();
        else if (Clock::now() - last_taken > 300ms)
            break;
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(::kill(wrapper_, SIGTERM), 0);
    const std::string wchan = process_wchan(wrapper_);
    Report r = finish(5000ms);
    EXPECT_EQ(r.ok, 1) << "relay_run() is stuck (wchan " << wchan << ") writing to a pty nobody reads";
    EXPECT_TRUE(guest_restored());
}

// A guest terminal that takes nothing (a stalled connection) while the
// client writes without end: SIGTERM still ends the relay, the terminal is
// restored, and the relay gives up on the undelivered output.
TEST_F(RelayRun, Clause3_SigtermEndsTheRelayWhenTheGuestReadsNothing)
{
    start("echo ready; exec yes 0123456789abcdefghijklmnopqrstuvwxyz");
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    std::this_thread::sleep_for(500ms);  // every buffer towards the guest fills
    ASSERT_EQ(::kill(wrapper_, SIGTERM), 0);
    Report r;
    const std::string wchan = process_wchan(wrapper_);
    ASSERT_TRUE(report_read(&r, sizeof r, 5000ms, false))
        << "the relay is stuck (wchan " << wchan << ") on a guest terminal that takes nothing";
    ::waitpid(wrapper_, nullptr, 0);
    wrapper_ = -1;
    EXPECT_EQ(r.ok, 1);
    EXPECT_EQ(r.signal, SIGTERM);
    EXPECT_TRUE(guest_restored());
}

// The relay leaves the flags of the guest's open terminal (which the
// guest's shell shares) as they were: no O_NONBLOCK behind its back.
TEST_F(RelayRun, Clause3_GuestTerminalFileFlagsUnchanged)
{
    const int before = ::fcntl(guest_.slave.get(), F_GETFL);
    start("read l; echo \"got:$l\"; exit 0");
    ASSERT_TRUE(guest_raw());
    type("x\n");
    finish();
    EXPECT_EQ(::fcntl(guest_.slave.get(), F_GETFL), before);
}

// The relay works under the filter the wrapper has from step 10 on.
TEST_F(RelayRun, Clause3_RelayWorksConfined)
{
    start(kEchoClient, RunOptions{true});
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_TRUE(guest_raw());
    type("under-filter\n");
    EXPECT_TRUE(guest_shows("got:under-filter"));
    ::kill(wrapper_, SIGTERM);
    Report r = finish();
    EXPECT_EQ(r.ok, 1);
    EXPECT_TRUE(guest_restored());
}

// ---- pty_monitor_run(): the client's process group and the gate ----

// The monitor leads the pty's session; the client has a group of its own,
// which is the terminal's foreground (so it reads without SIGTTIN).
TEST_F(RelayRun, Monitor_ClientHasItsOwnForegroundGroupInTheMonitorsSession)
{
    start(kEchoClient);
    ASSERT_TRUE(guest_shows("ready"));
    const pid_t client = client_remember();
    ASSERT_GT(client, 0) << "the monitor has no single child";
    EXPECT_EQ(stat_field(child_, 6), child_) << "the monitor leads no session";
    EXPECT_EQ(stat_field(client, 6), child_) << "the client is not in the monitor's session";
    EXPECT_EQ(stat_field(client, 5), client) << "the client has no process group of its own";
    EXPECT_EQ(stat_field(client, 8), client) << "the client is not the terminal's foreground";
    ::kill(wrapper_, SIGTERM);
    finish();
}

// Run by a guest through the setgid wrapper: the monitor drops the gate for
// good, the client keeps it as its effective gid (the socket's ACL needs it).
TEST_F(RelayRun, Monitor_GivesUpTheGateAndTheClientKeepsIt)
{
    ASSERT_EQ(::geteuid(), 0u) << "this test needs root (it sets up a setgid-like wrapper)";
    start(kEchoClient, RunOptions{false, true});
    ASSERT_TRUE(guest_shows("ready"));
    const pid_t client = client_remember();
    ASSERT_GT(client, 0);
    EXPECT_EQ(gid_line(child_), gids(kRealGid, kRealGid, kRealGid)) << "the monitor";
    EXPECT_EQ(gid_line(client), gids(kRealGid, kGateGid, kGateGid)) << "the client";
    ::kill(wrapper_, SIGTERM);
    finish();
}

// ---- clause 4: after the client, the server's copy of the slave is dead ----

TEST_F(RelayRun, Clause4_ServerCopyOfTheSlaveIsHungUp)
{
    ASSERT_EQ(::geteuid(), 0u) << "this test needs root (TIOCSTI on a tty that is not ours)";
    keep_server_slave_ = true;
    start("echo bye; exit 0");
    Report r = finish();
    ASSERT_EQ(r.ok, 1);
    EXPECT_TRUE(guest_shows("bye"));
    const ssize_t written = ::write(server_slave_.get(), "injected\n", 9);
    const int write_err = errno;
    EXPECT_EQ(written, -1);
    EXPECT_EQ(write_err, EIO) << std::strerror(write_err);
    const char key = 'Z';
    const int pushed = ::ioctl(server_slave_.get(), TIOCSTI, &key);
    const int push_err = errno;
    EXPECT_EQ(pushed, -1);
    EXPECT_EQ(push_err, EIO) << std::strerror(push_err);
    std::this_thread::sleep_for(200ms);
    guest_drain();
    EXPECT_EQ(seen_.find("injected"), std::string::npos);
    EXPECT_EQ(seen_.find('Z'), std::string::npos);
}

// With the master still open, the same writes go through: the test above
// can fail.
TEST_F(RelayRun, Control_WhileTheMasterLivesTheServerCopyWorks)
{
    ASSERT_EQ(::geteuid(), 0u) << "this test needs root (TIOCSTI on a tty that is not ours)";
    keep_server_slave_ = true;
    keep_master_copy_ = true;
    start("echo bye; exit 0");
    Report r = finish();
    ASSERT_EQ(r.ok, 1);
    EXPECT_EQ(::write(server_slave_.get(), "injected\n", 9), 9);
    const char key = 'Z';
    EXPECT_EQ(::ioctl(server_slave_.get(), TIOCSTI, &key), 0);
}

// Output the client wrote just before it ended is drained to the guest.
TEST_F(RelayRun, Clause4_OutputJustBeforeTheEndReachesTheGuest)
{
    start("head -c 100000 /dev/zero | tr '\\0' x; echo THE-END; exit 0");
    Report r = finish();
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(guest_shows("THE-END", 1000ms));
    EXPECT_EQ(std::count(seen_.begin(), seen_.end(), 'x'), 100000);
}

// What is still in the pty when the relay learns the client ended: the
// relay is held (SIGSTOP, by the test) while the client writes more than
// one read takes and ends; it then sees the end and the output together.
TEST_F(RelayRun, Clause4_OutputLeftInThePtyAtTheEndIsDrainedToTheGuest)
{
    start("echo ready; sleep 0.3; head -c 6000 /dev/zero | tr '\\0' q; echo THE-END; exit 0");
    ASSERT_TRUE(guest_shows("ready"));
    ASSERT_EQ(::kill(wrapper_, SIGSTOP), 0);
    EXPECT_TRUE(eventually([&] { return process_state(child_) == 'Z'; }))
        << "the client did not end while the relay was held";
    ASSERT_EQ(::kill(wrapper_, SIGCONT), 0);
    Report r = finish();
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(guest_shows("THE-END", 1000ms));
    EXPECT_EQ(std::count(seen_.begin(), seen_.end(), 'q'), 6000);
}

// ---- clause 5: how the client ended ----

TEST_F(RelayRun, Clause5_ExitStatusIsTheClients)
{
    start("exit 7");
    Report r = finish();
    EXPECT_EQ(r.ok, 1);
    EXPECT_EQ(r.status, 7);
    EXPECT_EQ(r.signal, 0);
    EXPECT_EQ(r.refused, 0);
}

TEST_F(RelayRun, Clause5_KilledClientIs128PlusTheSignal)
{
    start("kill -USR1 $$");
    Report r = finish();
    EXPECT_EQ(r.status, 128 + SIGUSR1);
    EXPECT_EQ(r.signal, 0);
}

TEST_F(RelayRun, Clause5_RefusalWordsAndExit0IsServerRefused)
{
    start("echo 'access not allowed'; exit 0");
    Report r = finish();
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.refused, 1);
}

TEST_F(RelayRun, Clause5_RefusalWordsAndExit1IsNotServerRefused)
{
    start("echo 'access not allowed'; exit 1");
    Report r = finish();
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.refused, 0);
}

TEST_F(RelayRun, Clause5_OtherLastWordsAndExit0IsNotServerRefused)
{
    start("echo '[detached (from session main)]'; exit 0");
    Report r = finish();
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.refused, 0);
}

// A screen that ends with the words is not tmux's refusal: tmux 3.3a's
// refused client writes "access not allowed\r\n" and nothing else.
TEST_F(RelayRun, Clause5_ScreenEndingWithTheWordsIsNotServerRefused)
{
    start("echo '$ ls'; echo 'access not allowed'; exit 0");
    Report r = finish();
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.refused, 0);
}

// The words on the guest's screen shortly before a normal detach are not
// the client's last words.
TEST_F(RelayRun, Clause5_RefusalWordsFollowedByADetachAreNotServerRefused)
{
    start("echo 'access not allowed'; echo '[detached (from session main)]'; exit 0");
    Report r = finish();
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.refused, 0) << "a normal detach after the words appeared on screen";
}

}  // namespace
