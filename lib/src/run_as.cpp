// Running a program as another account (run_as.hpp).
#include "tmuxguard/run_as.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "tmuxguard/unique_fd.hpp"

namespace tg {
namespace {

// The child is made by a raw clone3, so glibc never prepared it the way it
// prepares a fork(): another host thread may have held a malloc or thread
// list lock at that moment. From here to execve the child therefore makes
// raw system calls only: no malloc, no glibc fork(), and none of glibc's
// set*id wrappers (they would signal the host's other threads, which do
// not exist here, and wait for them for ever).

// Writes a message to the child's stderr (the pipe) and exits 126.
[[noreturn]] void child_abort(const char* msg)
{
    ssize_t ignored = ::write(STDERR_FILENO, msg, std::strlen(msg));
    (void)ignored;
    std::_Exit(126);
}

// Permanently becomes the target and proves it (STYLE.md 4).
void child_ids_drop(const RunAsPlan& p)
{
    if (::syscall(SYS_setgroups, p.groups.size(), p.groups.data()) != 0)
        child_abort("tmuxguard: setgroups failed\n");
    if (::syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0)
        child_abort("tmuxguard: setresgid failed\n");
    if (::syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0)
        child_abort("tmuxguard: setresuid failed\n");
    uid_t ru = 0, eu = 0, su = 0;
    gid_t rg = 0, eg = 0, sg = 0;
    if (::syscall(SYS_getresuid, &ru, &eu, &su) != 0 || ru != p.uid || eu != p.uid || su != p.uid)
        child_abort("tmuxguard: uid not dropped\n");
    if (::syscall(SYS_getresgid, &rg, &eg, &sg) != 0 || rg != p.gid || eg != p.gid || sg != p.gid)
        child_abort("tmuxguard: gid not dropped\n");
    if (p.uid != 0 && ::syscall(SYS_setresuid, 0, 0, 0) == 0)
        child_abort("tmuxguard: root regained after drop\n");
    if (p.uid != 0 && p.gid != 0 && ::syscall(SYS_setresgid, 0, 0, 0) == 0)
        child_abort("tmuxguard: root group regained after drop\n");
}

// stdin /dev/null, stdout/stderr the pipes, nothing else open, no
// controlling terminal, default signals, empty mask.
void child_process_reset(int out_w, int err_w)
{
    struct rlimit no_core {0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    if (::setsid() < 0)
        child_abort("tmuxguard: setsid failed\n");
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(out_w, STDOUT_FILENO) < 0 ||
        ::dup2(err_w, STDERR_FILENO) < 0)
        std::_Exit(127);
    if (::close_range(3, ~0U, 0) != 0)
        child_abort("tmuxguard: close_range failed\n");
    // Handlers first, then the mask the parent blocked around clone3: no
    // host handler ever runs in this child.
    for (int sig = 1; sig < NSIG; ++sig)
        ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// A NULL-terminated char* array over `v` (which must outlive it).
std::vector<char*> cstr_array(const std::vector<std::string>& v)
{
    std::vector<char*> out;
    for (const std::string& s : v)
        out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

// The child: reset, become the target, chdir, then fork the program and
// pass its status on as our own. Never returns. The extra process is what
// keeps the host out: this child never execs, so it keeps exit_signal 0
// (execve resets it to SIGCHLD), and the host's SIGCHLD handler, SIG_IGN
// auto-reaping or waitpid(-1) never see it; the program is its child.
[[noreturn]] void child_run(const RunAsPlan& p, char* const* argv, char* const* envp, int out_w,
                            int err_w)
{
    child_process_reset(out_w, err_w);
    if (p.drop)
        child_ids_drop(p);
    else if (::getuid() != p.uid || ::geteuid() != p.uid)
        child_abort("tmuxguard: caller is not the target account\n");
    if ((p.dir.empty() || p.dir[0] != '/' || ::chdir(p.dir.c_str()) != 0) && ::chdir("/") != 0)
        child_abort("tmuxguard: cannot change directory\n");
    // A raw fork (clone with SIGCHLD): glibc's fork() would take locks.
    const auto program = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
    if (program < 0)
        child_abort("tmuxguard: fork failed\n");
    if (program == 0) {
        ::execve(p.program.c_str(), argv, envp);
        child_abort("tmuxguard: cannot execute the program\n");
    }
    ::close(STDIN_FILENO);
    ::close(STDOUT_FILENO);
    ::close(STDERR_FILENO);
    int st = 0;
    while (::waitpid(program, &st, 0) < 0) {
        if (errno != EINTR)
            std::_Exit(127);
    }
    std::_Exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

// Milliseconds left until `deadline` (CLOCK_MONOTONIC), at least 0.
int deadline_left_ms(const struct timespec& deadline)
{
    struct timespec now {};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (deadline.tv_sec - now.tv_sec) * 1000LL + (deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms <= 0 ? 0 : static_cast<int>(ms);
}

// Reads what is available from a pipe; false on EOF or error.
bool pipe_read_some(int fd, std::string& into, std::size_t max)
{
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 && errno == EAGAIN;
        into.append(buf, static_cast<std::size_t>(n));
        if (into.size() > max)
            return false;
    }
}

// The child of one run: only we can wait for it (clone3 with exit_signal 0
// sends the host no SIGCHLD, and waitpid(-1) without __WALL does not see
// it; it never execs, which would reset that), and on every way out it is
// killed and reaped, exceptions included.
// <linux/wait.h> clashes with glibc's <sys/wait.h>; the kernel's value.
constexpr int kPidfdIdType = 3;  // P_PIDFD

class ChildGuard {
public:
    ChildGuard(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
    ChildGuard(const ChildGuard&) = delete;
    ChildGuard& operator=(const ChildGuard&) = delete;
    ~ChildGuard()
    {
        if (!reaped_)
            kill_and_reap();
    }
    [[nodiscard]] int pidfd() const { return pidfd_.get(); }

    // Kills the child's process group (it is a session leader, so the group
    // holds only its descendants; a daemonised tmux server is not among
    // them; the unreaped child keeps its pid from being reused), then reaps.
    void kill_and_reap()
    {
        ::kill(-pid_, SIGKILL);
        (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0U);
        (void)reap();
    }
    // Waits for the child through its pidfd; its status, or -1.
    int reap()
    {
        siginfo_t si {};
        while (::syscall(SYS_waitid, kPidfdIdType, pidfd_.get(), &si, WEXITED | __WALL, nullptr) != 0) {
            if (errno != EINTR)
                return -1;
        }
        reaped_ = true;
        // child_run passes the program's status on as its exit code.
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
    }

private:
    pid_t pid_;
    UniqueFd pidfd_;
    bool reaped_ = false;
};

// Reads both pipes until the child exits (pidfd), within the deadline, then
// reaps it. A grandchild keeping a pipe open cannot hold us.
Result<RunAsResult> child_collect(const RunAsPlan& p, ChildGuard& child, int out_r, int err_r)
{
    RunAsResult r;
    struct timespec deadline {};
    ::clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += p.timeout_ms / 1000;
    deadline.tv_nsec += static_cast<long>(p.timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    struct pollfd fds[3] = {{out_r, POLLIN, 0}, {err_r, POLLIN, 0}, {child.pidfd(), POLLIN, 0}};
    bool exited = false;
    while (!exited) {
        int left = deadline_left_ms(deadline);
        int n = left == 0 ? 0 : ::poll(fds, 3, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            child.kill_and_reap();
            return fail("run-timeout", n < 0 ? errno : 0, p.program, "did not finish in time");
        }
        exited = (fds[2].revents & POLLIN) != 0;
        for (int i = 0; i < 2; ++i) {
            std::string& into = i == 0 ? r.out : r.err;
            if ((fds[i].revents != 0 || exited) && fds[i].fd >= 0 &&
                !pipe_read_some(fds[i].fd, into, p.max_output))
                fds[i].fd = -1;
        }
        if (r.out.size() + r.err.size() > p.max_output) {
            child.kill_and_reap();
            return fail("run-output-too-large", 0, p.program, "wrote too much");
        }
    }
    r.status = child.reap();
    if (r.status < 0)
        return fail("exec-setup", errno, p.program, "waitid");
    return r;
}

// A close-on-exec pipe whose ends are both above 2: a host with its stdio
// closed would otherwise get fd 1 back, and the child's dup2(1, 1) would
// keep close-on-exec, leaving the program without a stdout.
bool pipe_above_stdio(UniqueFd& r, UniqueFd& w)
{
    int p[2] = {-1, -1};
    if (::pipe2(p, O_CLOEXEC) != 0)
        return false;
    for (int& fd : p) {
        if (fd > STDERR_FILENO)
            continue;
        const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        const int err = errno;
        ::close(fd);
        fd = moved;
        if (moved < 0) {
            ::close(p[0] >= 0 ? p[0] : p[1]);
            errno = err;
            return false;
        }
    }
    r.reset(p[0]);
    w.reset(p[1]);
    return true;
}

}  // namespace

Result<RunAsResult> run_as(const RunAsPlan& plan)
{
    if (!plan.drop && (::getuid() != plan.uid || ::geteuid() != plan.uid))
        return fail("not-target", 0, std::to_string(plan.uid), "only root may run as another account");
    if (plan.program.empty() || plan.program[0] != '/')
        return fail("exec-setup", 0, plan.program, "the program must be an absolute path");
    UniqueFd out_r, out_w, err_r, err_w;
    if (!pipe_above_stdio(out_r, out_w) || !pipe_above_stdio(err_r, err_w))
        return fail("exec-setup", errno, {}, "pipe");
    std::vector<char*> argv = cstr_array(plan.argv);
    std::vector<char*> envp = cstr_array(plan.env);
    // Every signal blocked across clone3, so no host handler runs in the
    // child before it has reset them (child_process_reset).
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    int pidfd = -1;
    struct clone_args ca {};
    ca.flags = CLONE_PIDFD;
    ca.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
    ca.exit_signal = 0;
    const long pid = ::syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0)
        child_run(plan, argv.data(), envp.data(), out_w.get(), err_w.get());
    const int err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0)
        return fail("exec-setup", err, {}, "clone3");
    ChildGuard child(static_cast<pid_t>(pid), pidfd);
    out_w.reset();
    err_w.reset();
    ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
    return child_collect(plan, child, out_r.get(), err_r.get());
}

}  // namespace tg
