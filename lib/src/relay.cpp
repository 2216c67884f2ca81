// The pty relay (relay.hpp has the contract).
#include "tmuxguard/relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace tg {
namespace {

// tmux 3.3a's words when its access list refuses a client: the client
// writes exactly this line and nothing else (no screen was ever drawn).
constexpr std::string_view kRefusal = "access not allowed";
constexpr std::size_t kHeadKeep = 64;
constexpr std::size_t kPendingMax = 1U << 16U;

// The guest's terminal mode, saved once and put back on every way out.
class TerminalMode {
public:
    explicit TerminalMode(int fd) : fd_(fd) { saved_ok_ = ::isatty(fd) && ::tcgetattr(fd, &saved_) == 0; }
    TerminalMode(const TerminalMode&) = delete;
    TerminalMode& operator=(const TerminalMode&) = delete;
    ~TerminalMode() { restore(); }

    void raw()
    {
        if (!saved_ok_)
            return;
        struct termios t = saved_;
        ::cfmakeraw(&t);
        (void)::tcsetattr(fd_, TCSADRAIN, &t);
    }
    void restore()
    {
        if (saved_ok_)
            (void)::tcsetattr(fd_, TCSADRAIN, &saved_);
    }

private:
    int fd_;
    bool saved_ok_ = false;
    struct termios saved_ {};
};

// Copies the guest terminal's window size to the pty (the kernel then
// sends SIGWINCH to the client).
void winsize_copy(int guest_fd, int master_fd)
{
    struct winsize ws {};
    if (::ioctl(guest_fd, TIOCGWINSZ, &ws) == 0)
        (void)::ioctl(master_fd, TIOCSWINSZ, &ws);
}

int wait_status(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

// The relay's state across one attach.
struct Relay {
    int guest_in;
    int guest_out;
    int master;
    pid_t child;
    TerminalMode mode;
    std::string head;        // the first bytes the client wrote
    std::size_t written = 0;  // how many it wrote in all
    RelayEnd end;
    bool child_done = false;
    bool guest_in_open = true;
    bool guest_in_paused = false;  // in the background after `bg`
    bool master_open = true;
    // Bytes read but not yet written: neither side can block the relay (a
    // client that reads nothing, a guest terminal that takes nothing), and
    // past kPendingMax the relay stops reading from that source.
    std::string to_master;
    std::string to_guest;

    Relay(int in, int out, int m, pid_t c) : guest_in(in), guest_out(out), master(m), child(c), mode(in) {}

    // Keeps what the refusal check needs: the start and the total.
    void output_note(const char* buf, std::size_t n)
    {
        if (head.size() < kHeadKeep)
            head.append(buf, std::min(n, kHeadKeep - head.size()));
        written += n;
    }

    // Client output, queued for the guest.
    void from_master()
    {
        char buf[16384];
        ssize_t n = ::read(master, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        if (n <= 0) {  // EIO: every slave descriptor is closed
            master_open = false;
            return;
        }
        output_note(buf, static_cast<std::size_t>(n));
        to_guest.append(buf, static_cast<std::size_t>(n));
    }

    // Guest keys, queued for the client.
    void from_guest()
    {
        char buf[4096];
        ssize_t n = ::read(guest_in, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        if (n < 0 && errno == EIO && !foreground()) {
            guest_in_paused = true;  // in the background: wait for SIGCONT
            return;
        }
        if (n <= 0) {
            guest_in_open = false;
            return;
        }
        to_master.append(buf, static_cast<std::size_t>(n));
    }

    // The master is non-blocking: writes what the pty takes now.
    void flush_master()
    {
        if (to_master.empty() || !master_open)
            return;
        ssize_t n = ::write(master, to_master.data(), to_master.size());
        if (n > 0)
            to_master.erase(0, static_cast<std::size_t>(n));
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            master_open = false;
    }

    // The guest's terminal stays blocking (its flags are shared with the
    // guest's shell), so after POLLOUT only a small piece is written: a tty
    // that reports room takes that much without blocking.
    void flush_guest()
    {
        if (to_guest.empty())
            return;
        ssize_t n = ::write(guest_out, to_guest.data(), std::min<std::size_t>(to_guest.size(), 256));
        if (n > 0) {
            to_guest.erase(0, static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            to_guest.clear();
            hang_up(SIGHUP);  // the guest's terminal is gone
        }
    }

    // Stops the relay itself with the terminal as the guest had it; on
    // SIGCONT puts raw mode and the window size back.
    void stop_self()
    {
        mode.restore();
        // SIGTSTP with its default action, not SIGSTOP: in an orphaned
        // process group (ssh host tmuxguard-attach ...) the kernel drops it
        // and the relay goes on, where SIGSTOP would stop it for ever.
        struct sigaction dfl {}, old {};
        dfl.sa_handler = SIG_DFL;
        sigset_t tstp;
        sigemptyset(&tstp);
        sigaddset(&tstp, SIGTSTP);
        (void)::sigaction(SIGTSTP, &dfl, &old);
        (void)::sigprocmask(SIG_UNBLOCK, &tstp, nullptr);
        ::kill(::getpid(), SIGTSTP);
        (void)::sigprocmask(SIG_BLOCK, &tstp, nullptr);
        (void)::sigaction(SIGTSTP, &old, nullptr);
        if (foreground())
            mode.raw();
        winsize_copy(guest_in, master);
    }

    // Whether the relay owns the guest's terminal now (not after `bg`).
    [[nodiscard]] bool foreground() const
    {
        const pid_t fg = ::tcgetpgrp(guest_in);
        return fg < 0 || fg == ::getpgrp();  // not a terminal: nothing to guard
    }

    // Ends the client: SIGHUP to the pty's foreground process group (the
    // client; the monitor keeps SIGHUP blocked and follows it out).
    void hang_up(int sig)
    {
        if (end.signal == 0)
            end.signal = sig;
        const pid_t fg = ::tcgetpgrp(master);
        if (fg > 0)
            ::kill(-fg, SIGHUP);
        ::kill(child, SIGHUP);
    }

    void child_check()
    {
        int st = 0;
        pid_t r = ::waitpid(child, &st, WNOHANG | WUNTRACED);
        if (r != child)
            return;
        if (WIFSTOPPED(st)) {
            stop_self();
            ::kill(child, SIGCONT);
            return;
        }
        end.status = wait_status(st);
        child_done = true;
    }

    void on_signal(int sig)
    {
        switch (sig) {
        case SIGCHLD:
            child_check();
            break;
        case SIGWINCH:
            winsize_copy(guest_in, master);
            break;
        case SIGCONT:
            if (foreground()) {  // `bg` continues us without the terminal
                mode.raw();
                guest_in_paused = false;
            }
            winsize_copy(guest_in, master);
            break;
        case SIGTSTP:
        case SIGTTIN:
        case SIGTTOU:
            stop_self();
            break;
        default:  // SIGTERM, SIGHUP, SIGINT, SIGQUIT
            hang_up(sig);
            break;
        }
    }

    // After the client ended: what is still in the pty goes to the guest,
    // within two seconds (a guest terminal that takes nothing cannot hold
    // the relay longer than that).
    void drain()
    {
        struct timespec deadline {};
        ::clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 2;
        for (;;) {
            if (to_guest.size() < kPendingMax && master_open) {
                const std::size_t before = to_guest.size();
                from_master();
                if (to_guest.size() == before)
                    master_open = false;  // nothing more: the pty is empty
            }
            if (to_guest.empty() && !master_open)
                return;
            struct timespec now {};
            ::clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > deadline.tv_sec ||
                (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
                return;
            struct pollfd pf {guest_out, POLLOUT, 0};
            if (!to_guest.empty() && ::poll(&pf, 1, 100) > 0 && (pf.revents & POLLOUT) != 0)
                flush_guest();
        }
    }
};

// Whether everything the client wrote was tmux's refusal line. Anything the
// server drew (an owner's pane saying the same words, say) is more than that.
bool output_is_refusal(const std::string& head, std::size_t written)
{
    if (written != head.size())
        return false;
    std::string_view text = head;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.remove_suffix(1);
    return text == kRefusal;
}

// Waits for the client after it was sent SIGHUP: up to 2 s, then SIGKILL to
// the pty's foreground group (the client, under the monitor) and the child.
int child_reap(pid_t child, int master)
{
    int st = 0;
    for (int i = 0; i < 200; ++i) {
        pid_t r = ::waitpid(child, &st, WNOHANG);
        if (r == child)
            return wait_status(st);
        if (r < 0 && errno != EINTR)
            return -1;
        struct timespec ten_ms {0, 10000000};
        ::nanosleep(&ten_ms, nullptr);
    }
    const pid_t fg = ::tcgetpgrp(master);
    if (fg > 0)
        ::kill(-fg, SIGKILL);
    ::kill(child, SIGKILL);
    while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    return wait_status(st);
}

}  // namespace

Result<PtyPair> pty_open(int guest_tty_fd)
{
    PtyPair p;
    p.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.master.valid())
        return fail("pty-failed", errno, "/dev/ptmx", "posix_openpt");
    if (::grantpt(p.master.get()) != 0 || ::unlockpt(p.master.get()) != 0)
        return fail("pty-failed", errno, "/dev/ptmx", "grantpt/unlockpt");
    // The peer by descriptor (Linux 4.13+): no path lookup of /dev/pts/N.
    p.slave.reset(::ioctl(p.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.slave.valid())
        return fail("pty-failed", errno, "/dev/ptmx", "TIOCGPTPEER");
    struct termios t {};
    if (::isatty(guest_tty_fd) && ::tcgetattr(guest_tty_fd, &t) == 0) {
        // No echo: keys typed ahead must not show up as the client's output
        // (tmux sets its own mode once attached; a refused client never does).
        t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
        (void)::tcsetattr(p.slave.get(), TCSANOW, &t);
    }
    winsize_copy(guest_tty_fd, p.master.get());
    return p;
}

bool pty_slave_adopt(int slave_fd)
{
    if (::ioctl(slave_fd, TIOCSCTTY, 0) != 0)
        return false;
    for (int fd = 0; fd <= 2; ++fd) {
        if (::dup2(slave_fd, fd) < 0)
            return false;
    }
    if (slave_fd > 2)
        ::close(slave_fd);
    return true;
}

[[noreturn]] void pty_monitor_run(int slave_fd, const std::function<void()>& exec_client)
{
    sigset_t all;
    sigfillset(&all);
    (void)::sigprocmask(SIG_BLOCK, &all, nullptr);  // the monitor only waits
    if (::setsid() < 0 || !pty_slave_adopt(slave_fd))
        std::_Exit(126);
    const pid_t client = ::fork();
    if (client < 0)
        std::_Exit(126);
    if (client == 0) {
        // Its own process group in the pty's session, in the foreground:
        // with the monitor as its parent in the same session the group is
        // not orphaned, so the kernel lets SIGTSTP stop it (tmux's
        // suspend-client). SIGTTOU is blocked, so tcsetpgrp succeeds.
        if (::setpgid(0, 0) != 0 || ::tcsetpgrp(STDIN_FILENO, ::getpid()) != 0)
            std::_Exit(126);
        sigset_t none;
        sigemptyset(&none);
        (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
        exec_client();
        std::_Exit(126);
    }
    (void)::setpgid(client, client);  // whichever of the two runs first
    if (!gate_drop_for_good())
        std::_Exit(126);
    for (;;) {
        int st = 0;
        if (::waitpid(client, &st, WUNTRACED) < 0) {
            if (errno == EINTR)
                continue;
            std::_Exit(126);
        }
        if (WIFSTOPPED(st)) {
            // The relay sees this process stop, stops itself with the
            // guest's terminal restored, and sends SIGCONT on `fg`.
            ::kill(::getpid(), SIGSTOP);
            (void)::tcsetpgrp(STDIN_FILENO, client);
            ::kill(-client, SIGCONT);
            continue;
        }
        std::_Exit(wait_status(st));
    }
}

Result<void> gate_drop_for_good()
{
    const gid_t real = ::getgid();
    const gid_t gate = ::getegid();
    if (::setresgid(real, real, real) != 0)
        return fail("gate-drop-failed", errno, {}, "setresgid");
    gid_t r = 0, e = 0, s = 0;
    if (::getresgid(&r, &e, &s) != 0 || r != real || e != real || s != real)
        return fail("gate-drop-failed", errno, {}, "gid not dropped");
    if (gate != real && ::setresgid(static_cast<gid_t>(-1), gate, static_cast<gid_t>(-1)) == 0)
        return fail("gate-drop-failed", 0, {}, "the gate group could be regained");
    return {};
}

sigset_t relay_signals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGCHLD, SIGWINCH, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGTERM, SIGHUP,
                    SIGINT, SIGQUIT})
        sigaddset(&set, sig);
    return set;
}

Result<RelayEnd> relay_run(int guest_in, int guest_out, int master_fd, pid_t child)
{
    sigset_t set = relay_signals();
    int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        return fail("relay-failed", errno, {}, "signalfd");
    Relay r(guest_in, guest_out, master_fd, child);
    (void)::fcntl(master_fd, F_SETFL, ::fcntl(master_fd, F_GETFL) | O_NONBLOCK);
    if (r.foreground())
        r.mode.raw();
    else
        r.guest_in_paused = true;  // started in the background
    winsize_copy(guest_in, master_fd);
    r.child_check();  // it may have ended before the signalfd existed
    while (!r.child_done && r.end.signal == 0) {
        const bool room_to_guest = r.to_guest.size() < kPendingMax;
        const bool room_to_master = r.to_master.size() < kPendingMax;
        const auto master_events = static_cast<short>(
            (room_to_guest ? POLLIN : 0) | (r.to_master.empty() ? 0 : POLLOUT));
        struct pollfd fds[4] = {
            {sfd, POLLIN, 0},
            {r.master_open ? master_fd : -1, master_events, 0},
            {r.guest_in_open && !r.guest_in_paused && room_to_master ? guest_in : -1, POLLIN, 0},
            {r.to_guest.empty() ? -1 : guest_out, POLLOUT, 0}};
        int n = ::poll(fds, 4, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si {};
            while (::read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
                r.on_signal(static_cast<int>(si.ssi_signo));
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
            r.from_master();
        if (fds[1].revents & POLLOUT)
            r.flush_master();
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
            r.from_guest();
        if (fds[3].revents & (POLLOUT | POLLERR | POLLHUP))
            r.flush_guest();
        r.flush_master();  // what was just read, if the pty takes it at once
        if (!r.master_open && !r.child_done)
            r.child_check();
    }
    ::close(sfd);
    if (!r.child_done)
        r.end.status = child_reap(child, master_fd);
    r.drain();
    r.mode.restore();
    r.end.server_refused = r.end.status == 0 && output_is_refusal(r.head, r.written);
    return r.end;
}

}  // namespace tg
