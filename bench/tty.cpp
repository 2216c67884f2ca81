// Clients on ptys the benchmark owns, through tmuxguard-attach (the guest,
// via the relay) beside a direct `tmux attach` by the share's owner, in one
// run, on the same server and the same pane. Never a timed test: it
// reports, it asserts nothing about speed. It does fail (exit 1) when a
// screen, an echo or a client's clean exit never comes, so a broken set-up
// never passes for a fast one.
//
// usage (root): tg_bench_tty first-screen|rtt --wrapper=PATH --share=NAME
//     --guest=USER --owner=USER --tmux=PATH --socket=PATH --session=NAME
//     --marker=TEXT [--samples=N] [--chain=PATH]
// bench/run.sh sets up the share. Its pane must show TEXT (printable, no
// blank, no byte repeated next to itself: tmux would draw the run
// otherwise) on a line of its own, then echo every byte it reads at once
// (it runs `stty raw -echo; printf 'TEXT\r\n'; exec cat`), and the status
// line must be off (its clock would look like an echo).
//
// first-screen: from fork of the client (its pty already made) until TEXT
// appears as text on the pty master, i.e. until the guest sees the pane.
// Then the client is detached (C-b d, untimed) and must exit 0. The modes
// take turns, one client at a time. With --chain, a third mode: the owner's
// `tmux attach` started through PATH (bench/floor.c: a static-pie program
// that only execs its arguments), the least one more exec in front of tmux
// costs, i.e. the floor for any wrapper.
//
// rtt: one printable byte written to the pty master that the client has as
// its terminal, until that byte comes back on the same master as text in
// the client's redraw (escape sequences are skipped, so a letter ending a
// CSI never counts). Path of the wrapper mode: master -> guest tty -> relay
// -> the wrapper's pty -> tmux client -> server -> pane (cat) -> server ->
// client -> the wrapper's pty -> relay -> guest tty -> master. Direct
// mode: master -> the owner's tty -> client -> server -> pane -> server ->
// client -> the tty -> master. Both clients are attached to the one pane,
// so each echo is drawn on both: after every sample the other client's
// copy is waited for and both masters are drained until quiet. The modes
// alternate (wrapper, direct, ...). The pane's line is reset with an
// untimed carriage return before it wraps, so the screen never scrolls.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "bench_util.hpp"

namespace {

using bench::die;
using bench::die_errno;
using bench::now_ns;

struct Config {
    std::string mode;
    std::string wrapper;
    std::string share;
    std::string guest;
    std::string owner;
    std::string tmux;
    std::string socket;
    std::string session;
    std::string marker;
    std::string chain;
    int samples = 300;
};

// The bytes sent, one per sample in turn. 62 of them against a line of 60:
// a cell is never overwritten with the byte it already holds.
constexpr std::string_view kKeys =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr int kLineKeys = 60;
constexpr unsigned short kRows = 24;
constexpr unsigned short kCols = 80;
constexpr int kTimeoutMs = 5000;
constexpr int kQuietMs = 10;
constexpr int kRetryMs = 500;
constexpr char kDetach[] = {0x02, 'd'};  // tmux's default prefix, then detach-client

// Tells text from escape sequences in a terminal's output stream, one byte
// at a time, across reads: only a printable byte in the ground state is
// something the pane printed.
class EchoScanner {
public:
    // True when c is printable text (not part of a control sequence).
    bool text(unsigned char c)
    {
        switch (state_) {
        case State::ground:
            if (c == 0x1b) {
                state_ = State::esc;
                return false;
            }
            return c >= 0x20 && c < 0x7f;
        case State::esc:
            if (c == '[')
                state_ = State::csi;
            else if (c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X' || c == 'k')
                state_ = State::string;  // OSC, DCS, APC, PM, SOS, screen's title
            else if (c >= 0x20 && c <= 0x2f)
                state_ = State::esc_intermediate;  // ESC ( B and the like
            else
                state_ = State::ground;  // a two-byte sequence: ESC 7, ESC M, ...
            return false;
        case State::esc_intermediate:
            if (c < 0x20 || c > 0x2f)
                state_ = State::ground;
            return false;
        case State::csi:
            if (c >= 0x40 && c <= 0x7e)
                state_ = State::ground;
            return false;
        case State::string:
            if (c == 0x07)
                state_ = State::ground;
            else if (c == 0x1b)
                state_ = State::string_esc;
            return false;
        case State::string_esc:  // ESC \ ends the string
            state_ = c == '\\' ? State::ground : State::string;
            return false;
        }
        return false;
    }

private:
    enum class State { ground, esc, esc_intermediate, csi, string, string_esc };
    State state_ = State::ground;
};

struct Account {
    std::string name;
    uid_t uid;
    gid_t gid;
    std::string home;
    std::string shell;
    std::vector<gid_t> groups;
};

// One client on a pty the benchmark owns.
struct Client {
    Client(const char* n, const Account& a, std::vector<std::string> av)
        : name(n), account(a), argv(std::move(av))
    {
    }
    const char* name;
    const Account& account;
    std::vector<std::string> argv;
    int master = -1;
    pid_t pid = -1;
    EchoScanner scanner;
    std::string tail;  // the last text bytes, as long as the marker
    std::vector<double> us;
};

Account account_lookup(const std::string& name)
{
    struct passwd* pw = ::getpwnam(name.c_str());
    if (pw == nullptr)
        die("no such account: " + name);
    Account a{name, pw->pw_uid, pw->pw_gid, pw->pw_dir, pw->pw_shell, std::vector<gid_t>(64)};
    int n = static_cast<int>(a.groups.size());
    if (::getgrouplist(name.c_str(), a.gid, a.groups.data(), &n) < 0)
        die("getgrouplist " + name);
    a.groups.resize(static_cast<std::size_t>(n));
    return a;
}

// The child: the slave becomes its controlling terminal and fds 0-2, then
// it becomes the account for good and execs argv. Everything it needs is
// prepared before fork.
[[noreturn]] void client_exec(int slave, const Account& a, char* const* argv, char* const* env)
{
    if (::setsid() < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0 || ::dup2(slave, 0) < 0 ||
        ::dup2(slave, 1) < 0 || ::dup2(slave, 2) < 0)
        ::_exit(126);
    if (slave > 2)
        ::close(slave);
    if (::setgroups(a.groups.size(), a.groups.data()) != 0 || ::setresgid(a.gid, a.gid, a.gid) != 0 ||
        ::setresuid(a.uid, a.uid, a.uid) != 0 || ::chdir("/") != 0)
        ::_exit(126);
    ::execve(argv[0], argv, env);
    ::_exit(127);
}

std::vector<char*> cstrings(const std::vector<std::string>& v)
{
    std::vector<char*> out;
    for (const auto& s : v)
        out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

// A fresh 80x24 pty (the benchmark keeps the master, non-blocking); the
// slave's descriptor.
int pty_make(Client& c)
{
    int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0)
        die_errno("posix_openpt");
    int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0)
        die_errno("TIOCGPTPEER");
    struct winsize ws {};
    ws.ws_row = kRows;
    ws.ws_col = kCols;
    if (::ioctl(master, TIOCSWINSZ, &ws) != 0)
        die_errno("TIOCSWINSZ");
    (void)::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
    c.master = master;
    c.scanner = EchoScanner();
    c.tail.clear();
    return slave;
}

// Starts the client on a fresh pty; the time of the fork (the pty and the
// argument vectors are made before it).
std::int64_t client_start(Client& c)
{
    const Account& a = c.account;
    int slave = pty_make(c);
    std::vector<std::string> env = {"TERM=xterm-256color", "HOME=" + a.home, "USER=" + a.name,
                                    "LOGNAME=" + a.name, "SHELL=" + a.shell, "PATH=/usr/bin:/bin"};
    std::vector<char*> argv_c = cstrings(c.argv);
    std::vector<char*> env_c = cstrings(env);
    const std::int64_t t0 = now_ns();
    pid_t pid = ::fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0)
        client_exec(slave, a, argv_c.data(), env_c.data());
    ::close(slave);
    c.pid = pid;
    return t0;
}

// Reads what is there; true when `want` came back as text, or, with `want`
// -1 and a marker, when the text ends in the marker. EOF or EIO (the client
// has ended) is death unless `eof_ok`, then it returns true.
bool client_read(Client& c, int want, std::string_view marker = {}, bool eof_ok = false)
{
    bool seen = false;
    unsigned char buf[16384];
    for (;;) {
        ssize_t n = ::read(c.master, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return seen;
        if (n <= 0 && eof_ok)
            return true;
        if (n <= 0)
            die(std::string(c.name) + ": the client's terminal closed (did the client end?)");
        for (ssize_t i = 0; i < n; ++i) {
            if (!c.scanner.text(buf[i]))
                continue;
            if (buf[i] == want)
                seen = true;
            if (!marker.empty()) {
                c.tail.push_back(static_cast<char>(buf[i]));
                if (c.tail.size() > marker.size())
                    c.tail.erase(0, 1);
                seen = seen || c.tail == marker;
            }
        }
    }
}

// Waits until client_read says yes; the time it did, or death after the
// timeout.
std::int64_t client_wait(Client& c, int want, std::string_view marker, const std::string& what)
{
    const std::int64_t deadline = now_ns() + std::int64_t{kTimeoutMs} * 1000000;
    for (;;) {
        struct pollfd pf {c.master, POLLIN, 0};
        int left = static_cast<int>((deadline - now_ns()) / 1000000);
        if (left < 0)
            die(std::string(c.name) + ": no " + what + " within " + std::to_string(kTimeoutMs) + " ms");
        int r = ::poll(&pf, 1, left);
        if (r < 0 && errno != EINTR)
            die_errno("poll");
        if (r > 0 && client_read(c, want, marker))
            return now_ns();
    }
}

// Reads both masters until neither has said anything for quiet_ms.
void drain(Client& a, Client& b, int quiet_ms)
{
    for (;;) {
        struct pollfd pf[2] = {{a.master, POLLIN, 0}, {b.master, POLLIN, 0}};
        int r = ::poll(pf, 2, quiet_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die_errno("poll");
        if (r == 0)
            return;
        if (pf[0].revents != 0)
            (void)client_read(a, -1);
        if (pf[1].revents != 0)
            (void)client_read(b, -1);
    }
}

void bytes_write(Client& c, const char* bytes, std::size_t n)
{
    while (n > 0) {
        ssize_t w = ::write(c.master, bytes, n);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            die_errno(std::string(c.name) + ": write");
        bytes += w;
        n -= static_cast<std::size_t>(w);
    }
}

// Reads c's terminal until it has said nothing for quiet_ms.
void quiet_wait(Client& c, int quiet_ms)
{
    struct pollfd pf {c.master, POLLIN, 0};
    while (::poll(&pf, 1, quiet_ms) > 0)
        (void)client_read(c, -1);
}

// Detaches the client (C-b d, once its first screen is complete: keys that
// arrive while the server still sets the terminal up can be dropped, so
// they are sent again every kRetryMs) and waits for it to end, reading its
// terminal meanwhile; dies unless it exits 0 within the timeout.
void client_detach(Client& c)
{
    quiet_wait(c, kQuietMs);
    const std::int64_t deadline = now_ns() + std::int64_t{kTimeoutMs} * 1000000;
    std::int64_t resend = 0;
    int st = 0;
    while (::waitpid(c.pid, &st, WNOHANG) != c.pid) {
        if (now_ns() >= resend) {
            bytes_write(c, kDetach, sizeof kDetach);
            resend = now_ns() + std::int64_t{kRetryMs} * 1000000;
        }
        if (now_ns() > deadline) {
            ::kill(c.pid, SIGKILL);
            (void)::waitpid(c.pid, &st, 0);
            die(std::string(c.name) + ": did not end after detach");
        }
        struct pollfd pf {c.master, POLLIN, 0};
        if (::poll(&pf, 1, 10) > 0)
            (void)client_read(c, -1, {}, true);
    }
    ::close(c.master);
    c.master = -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die(std::string(c.name) + ": ended with " +
            (WIFEXITED(st) ? "status " + std::to_string(WEXITSTATUS(st))
                           : "signal " + std::to_string(WTERMSIG(st))));
}

// One first-screen sample of c: start, the marker, detach, clean exit.
void first_screen_take(Client& c, const std::string& marker)
{
    const std::int64_t t0 = client_start(c);
    const std::int64_t t1 = client_wait(c, -1, marker, "first screen (marker " + marker + ")");
    c.us.push_back(static_cast<double>(t1 - t0) / 1000.0);
    client_detach(c);
}

// Waits for the first screen of both clients: the marker, then quiet.
void first_screens_wait(Client& a, Client& b, const std::string& marker)
{
    for (Client* c : {&a, &b})
        (void)client_wait(*c, -1, marker, "first screen (marker " + marker + ")");
    drain(a, b, 300);
}

// One timed keystroke on `timed`; the other client's copy of the echo is
// waited for (untimed), then both are drained.
void key_take(Client& timed, Client& other, char key)
{
    const std::int64_t t0 = now_ns();
    bytes_write(timed, &key, 1);
    const std::int64_t t1 = client_wait(timed, static_cast<unsigned char>(key), {}, "echo");
    timed.us.push_back(static_cast<double>(t1 - t0) / 1000.0);
    (void)client_wait(other, static_cast<unsigned char>(key), {}, "echo");
    drain(timed, other, kQuietMs);
}

// Back to the start of the pane's line (cat echoes the CR), untimed.
void line_reset(Client& c, Client& other)
{
    bytes_write(c, "\r", 1);
    drain(c, other, 50);
}

// Every client once per round, the order rotated each round.
void first_screen_run(const Config& cfg, const std::vector<Client*>& clients)
{
    for (int i = 0; i < cfg.samples; ++i)
        for (std::size_t k = 0; k < clients.size(); ++k)
            first_screen_take(*clients[(static_cast<std::size_t>(i) + k) % clients.size()], cfg.marker);
}

void rtt_run(const Config& cfg, Client& wrapper, Client& direct)
{
    (void)client_start(wrapper);
    (void)client_start(direct);
    first_screens_wait(wrapper, direct, cfg.marker);
    line_reset(wrapper, direct);
    int keys = 0;
    for (int i = 0; i < cfg.samples; ++i) {
        for (Client* c : {&wrapper, &direct}) {
            Client& other = c == &wrapper ? direct : wrapper;
            if (keys > 0 && keys % kLineKeys == 0)
                line_reset(*c, other);
            key_take(*c, other, kKeys[static_cast<std::size_t>(keys) % kKeys.size()]);
            ++keys;
        }
    }
    for (Client* c : {&wrapper, &direct})
        client_detach(*c);
}

void ratio_print(const Client& a, const Client& b)
{
    const double am = bench::percentile(a.us, 50), a90 = bench::percentile(a.us, 90);
    const double bm = bench::percentile(b.us, 50), b90 = bench::percentile(b.us, 90);
    std::printf("%s/%s median_ratio=%.2f p90_ratio=%.2f median_diff_us=%.1f p90_diff_us=%.1f\n",
                a.name, b.name, am / bm, a90 / b90, am - bm, a90 - b90);
}

// Every client's samples, then each against the direct attach, and the
// wrapper against the chain.
void report(const std::vector<Client*>& clients)
{
    for (const Client* c : clients)
        bench::samples_print(c->name, c->us);
    for (std::size_t i = 0; i < clients.size(); ++i)
        if (i != 1)
            ratio_print(*clients[i], *clients[1]);
    if (clients.size() > 2)
        ratio_print(*clients[0], *clients[2]);
}

Config config_parse(int argc, char** argv)
{
    Config c;
    std::string samples;
    if (argc > 1)
        c.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        using bench::option_take;
        if (!option_take(a, "wrapper", c.wrapper) && !option_take(a, "share", c.share) &&
            !option_take(a, "guest", c.guest) && !option_take(a, "owner", c.owner) &&
            !option_take(a, "tmux", c.tmux) && !option_take(a, "socket", c.socket) &&
            !option_take(a, "session", c.session) && !option_take(a, "marker", c.marker) &&
            !option_take(a, "samples", samples) && !option_take(a, "chain", c.chain))
            die("unknown argument: " + std::string(a));
    }
    if ((c.mode != "first-screen" && c.mode != "rtt") || c.wrapper.empty() || c.share.empty() ||
        c.guest.empty() || c.owner.empty() || c.tmux.empty() || c.socket.empty() ||
        c.session.empty() || c.marker.empty())
        die("usage: tg_bench_tty first-screen|rtt --wrapper=PATH --share=NAME --guest=USER "
            "--owner=USER --tmux=PATH --socket=PATH --session=NAME --marker=TEXT [--samples=N] "
            "[--chain=PATH]");
    if (!samples.empty())
        c.samples = bench::count_parse(samples, "--samples");
    return c;
}

}  // namespace

int main(int argc, char** argv)
{
    bench::g_program = "tg_bench_tty";
    const Config cfg = config_parse(argc, argv);
    if (::geteuid() != 0)
        die("needs root (runs the clients as the guest and the owner)");
    const Account guest = account_lookup(cfg.guest);
    const Account owner = account_lookup(cfg.owner);
    const std::vector<std::string> attach = {cfg.tmux, "-S", cfg.socket, "attach-session", "-t",
                                             "=" + cfg.session};
    Client wrapper("wrapper", guest, {cfg.wrapper, cfg.share});
    Client direct("direct", owner, attach);
    std::vector<std::string> chained = attach;
    chained.insert(chained.begin(), cfg.chain);
    Client chain("chain", owner, chained);
    std::vector<Client*> clients = {&wrapper, &direct};
    if (cfg.mode == "first-screen" && !cfg.chain.empty())
        clients.push_back(&chain);
    if (cfg.mode == "first-screen")
        first_screen_run(cfg, clients);
    else
        rtt_run(cfg, wrapper, direct);
    report(clients);
    return 0;
}
