// Keystroke round trip through tmuxguard-attach (the relay) beside a direct
// `tmux attach` by the share's owner, in one run, on the same server and the
// same pane. Never a timed test: it reports, it asserts nothing about speed.
// It does fail (exit 1) when an echo never comes back, so a broken set-up
// never passes for a fast one.
//
// usage (root): tg_bench_keystroke_rtt --wrapper=PATH --share=NAME
//     --guest=USER --owner=USER --tmux=PATH --socket=PATH --session=NAME
//     [--samples=N]
// bench/keystroke-rtt.sh sets up the share; its pane must echo every byte
// it reads at once (it runs `stty raw -echo; exec cat`) and the status line
// must be off (its clock would look like an echo).
//
// What is timed: one printable byte written to the pty master that the
// client has as its terminal, until that byte comes back on the same master
// as text in the client's redraw (escape sequences are skipped, so a letter
// ending a CSI never counts). Path of the wrapper mode: master -> guest tty
// -> relay -> the wrapper's pty -> tmux server -> pane (cat) -> server ->
// the wrapper's pty -> relay -> guest tty -> master. Direct mode: master ->
// the owner's tty -> server -> pane -> server -> the tty -> master (tmux's
// server reads and writes the client's terminal itself).
//
// Both clients are attached to the one pane, so each echo is drawn on both:
// after every sample the other client's copy is waited for and both masters
// are drained until quiet. The modes alternate (wrapper, direct, ...) so
// they share the machine's load. The pane's line is reset with an untimed
// carriage return before it wraps, so the screen never scrolls.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Config {
    std::string wrapper;
    std::string share;
    std::string guest;
    std::string owner;
    std::string tmux;
    std::string socket;
    std::string session;
    int samples = 300;
};

// The bytes sent, one per sample in turn. 62 of them against a line of 60:
// a cell is never overwritten with the byte it already holds.
constexpr std::string_view kKeys =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr int kLineKeys = 60;
constexpr unsigned short kRows = 24;
constexpr unsigned short kCols = 80;
constexpr int kEchoTimeoutMs = 5000;
constexpr int kQuietMs = 10;

[[noreturn]] void die(const std::string& what)
{
    std::fprintf(stderr, "tg_bench_keystroke_rtt: %s\n", what.c_str());
    std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what)
{
    die(what + ": " + std::strerror(errno));
}

std::int64_t now_ns()
{
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

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

// One attached client on a pty the benchmark owns.
struct Client {
    explicit Client(const char* n) : name(n) {}
    const char* name;
    int master = -1;
    pid_t pid = -1;
    EchoScanner scanner;
    std::vector<double> rtt_us;
};

struct Account {
    std::string name;
    uid_t uid;
    gid_t gid;
    std::string home;
    std::string shell;
};

Account account_lookup(const std::string& name)
{
    struct passwd* pw = ::getpwnam(name.c_str());
    if (pw == nullptr)
        die("no such account: " + name);
    return {name, pw->pw_uid, pw->pw_gid, pw->pw_dir, pw->pw_shell};
}

// The child: the slave becomes its controlling terminal and fds 0-2, then
// it becomes the account for good and execs argv. Everything it needs is
// prepared before fork (the groups come from NSS).
[[noreturn]] void client_exec(int slave, const Account& a, const std::vector<gid_t>& groups,
                              char* const* argv, char* const* env)
{
    if (::setsid() < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0 || ::dup2(slave, 0) < 0 ||
        ::dup2(slave, 1) < 0 || ::dup2(slave, 2) < 0)
        ::_exit(126);
    if (slave > 2)
        ::close(slave);
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(a.gid, a.gid, a.gid) != 0 ||
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

std::vector<gid_t> groups_of(const Account& a)
{
    std::vector<gid_t> groups(64);
    int n = static_cast<int>(groups.size());
    if (::getgrouplist(a.name.c_str(), a.gid, groups.data(), &n) < 0)
        die("getgrouplist " + a.name);
    groups.resize(static_cast<std::size_t>(n));
    return groups;
}

// A fresh 80x24 pty; the client gets the slave, the benchmark keeps the
// master (non-blocking).
void client_start(Client& c, const Account& a, const std::vector<std::string>& argv)
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
    std::vector<gid_t> groups = groups_of(a);
    std::vector<std::string> env = {"TERM=xterm-256color", "HOME=" + a.home, "USER=" + a.name,
                                    "LOGNAME=" + a.name, "SHELL=" + a.shell,
                                    "PATH=/usr/bin:/bin"};
    std::vector<char*> argv_c = cstrings(argv);
    std::vector<char*> env_c = cstrings(env);
    pid_t pid = ::fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0)
        client_exec(slave, a, groups, argv_c.data(), env_c.data());
    ::close(slave);
    c.master = master;
    c.pid = pid;
}

// Reads what is there; true when `want` came back as text. -1 for `want`
// only feeds the scanner.
bool client_read(Client& c, int want)
{
    bool seen = false;
    unsigned char buf[16384];
    for (;;) {
        ssize_t n = ::read(c.master, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return seen;
        if (n <= 0)
            die(std::string(c.name) + ": the client's terminal closed (did the client end?)");
        for (ssize_t i = 0; i < n; ++i)
            if (c.scanner.text(buf[i]) && buf[i] == want)
                seen = true;
    }
}

// Waits until `want` comes back on c; the time it came, or dies after the
// timeout.
std::int64_t echo_wait(Client& c, int want)
{
    const std::int64_t deadline = now_ns() + std::int64_t{kEchoTimeoutMs} * 1000000;
    for (;;) {
        struct pollfd pf {c.master, POLLIN, 0};
        int left = static_cast<int>((deadline - now_ns()) / 1000000);
        if (left < 0)
            die(std::string(c.name) + ": no echo of '" + static_cast<char>(want) + "' within " +
                std::to_string(kEchoTimeoutMs) + " ms");
        int r = ::poll(&pf, 1, left);
        if (r < 0 && errno != EINTR)
            die_errno("poll");
        if (r > 0 && client_read(c, want))
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

// Waits for the first screen of both clients: some output, then quiet.
void first_screen_wait(Client& a, Client& b)
{
    for (Client* c : {&a, &b}) {
        struct pollfd pf {c->master, POLLIN, 0};
        if (::poll(&pf, 1, kEchoTimeoutMs) <= 0)
            die(std::string(c->name) + ": no first screen within " +
                std::to_string(kEchoTimeoutMs) + " ms");
    }
    drain(a, b, 300);
}

void key_write(Client& c, char key)
{
    while (::write(c.master, &key, 1) != 1)
        if (errno != EINTR && errno != EAGAIN)
            die_errno(std::string(c.name) + ": write");
}

// One timed keystroke on `timed`; the other client's copy of the echo is
// waited for (untimed), then both are drained.
void sample_take(Client& timed, Client& other, char key)
{
    const std::int64_t t0 = now_ns();
    key_write(timed, key);
    const std::int64_t t1 = echo_wait(timed, static_cast<unsigned char>(key));
    timed.rtt_us.push_back(static_cast<double>(t1 - t0) / 1000.0);
    (void)echo_wait(other, static_cast<unsigned char>(key));
    drain(timed, other, kQuietMs);
}

// Back to the start of the pane's line (cat echoes the CR), untimed.
void line_reset(Client& c, Client& other)
{
    key_write(c, '\r');
    drain(c, other, 50);
}

double percentile(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    // Nearest rank.
    std::size_t rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

void client_stop(Client& c)
{
    ::kill(c.pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 200; ++i) {
        if (::waitpid(c.pid, &st, WNOHANG) == c.pid)
            return;
        struct timespec ten_ms {0, 10000000};
        ::nanosleep(&ten_ms, nullptr);
    }
    ::kill(c.pid, SIGKILL);
    (void)::waitpid(c.pid, &st, 0);
}

void report(const Client& w, const Client& d)
{
    const double wm = percentile(w.rtt_us, 50), w90 = percentile(w.rtt_us, 90);
    const double dm = percentile(d.rtt_us, 50), d90 = percentile(d.rtt_us, 90);
    for (const Client* c : {&w, &d})
        std::printf("%-7s samples=%zu median_us=%.1f p90_us=%.1f min_us=%.1f max_us=%.1f\n",
                    c->name, c->rtt_us.size(), percentile(c->rtt_us, 50),
                    percentile(c->rtt_us, 90), percentile(c->rtt_us, 0),
                    percentile(c->rtt_us, 100));
    std::printf("wrapper/direct median_ratio=%.2f p90_ratio=%.2f median_diff_us=%.1f "
                "p90_diff_us=%.1f\n",
                wm / dm, w90 / d90, wm - dm, w90 - d90);
}

bool option_take(std::string_view arg, std::string_view name, std::string& out)
{
    if (!arg.starts_with(name) || arg.size() <= name.size() || arg[name.size()] != '=')
        return false;
    out = std::string(arg.substr(name.size() + 1));
    return true;
}

Config config_parse(int argc, char** argv)
{
    Config c;
    std::string samples;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (!option_take(a, "--wrapper", c.wrapper) && !option_take(a, "--share", c.share) &&
            !option_take(a, "--guest", c.guest) && !option_take(a, "--owner", c.owner) &&
            !option_take(a, "--tmux", c.tmux) && !option_take(a, "--socket", c.socket) &&
            !option_take(a, "--session", c.session) && !option_take(a, "--samples", samples))
            die("unknown argument: " + std::string(a));
    }
    if (c.wrapper.empty() || c.share.empty() || c.guest.empty() || c.owner.empty() ||
        c.tmux.empty() || c.socket.empty() || c.session.empty())
        die("usage: tg_bench_keystroke_rtt --wrapper=PATH --share=NAME --guest=USER "
            "--owner=USER --tmux=PATH --socket=PATH --session=NAME [--samples=N]");
    if (!samples.empty()) {
        c.samples = std::atoi(samples.c_str());
        if (c.samples < 1)
            die("--samples must be a positive number");
    }
    return c;
}

}  // namespace

int main(int argc, char** argv)
{
    Config cfg = config_parse(argc, argv);
    if (::geteuid() != 0)
        die("needs root (runs the clients as the guest and the owner)");
    const Account guest = account_lookup(cfg.guest);
    const Account owner = account_lookup(cfg.owner);

    Client wrapper("wrapper");
    Client direct("direct");
    client_start(wrapper, guest, {cfg.wrapper, cfg.share});
    client_start(direct, owner, {cfg.tmux, "-S", cfg.socket, "attach-session", "-t", "=" + cfg.session});
    first_screen_wait(wrapper, direct);
    line_reset(wrapper, direct);

    int keys = 0;
    for (int i = 0; i < cfg.samples; ++i) {
        for (Client* c : {&wrapper, &direct}) {
            Client& other = c == &wrapper ? direct : wrapper;
            if (keys > 0 && keys % kLineKeys == 0)
                line_reset(*c, other);
            sample_take(*c, other, kKeys[static_cast<std::size_t>(keys) % kKeys.size()]);
            ++keys;
        }
    }
    client_stop(wrapper);
    client_stop(direct);
    report(wrapper, direct);
    return 0;
}
