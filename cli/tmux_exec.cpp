#include "tmux_exec.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/unique_fd.hpp"

extern char** environ;

namespace tgcli {

namespace {

// A hostile server must not hang `tmuxguard reload`; every command here is
// quick on a healthy server.
constexpr int kTimeoutMs = 15000;
constexpr std::size_t kMaxOutput = 1U << 20U;

// Everything the child needs, built before fork so the child only makes
// system calls.
struct ChildPlan {
    bool drop = false;  // change ids to the owner's (the caller is root)
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string tmux;
    std::string home;
    std::vector<std::string> argv;
    std::vector<std::string> env;
};

// The caller's TERM if it is a plain terminal name, else "screen".
std::string term_pick()
{
    const char* t = std::getenv("TERM");
    return (t != nullptr && tg::name_is_valid_term(t)) ? t : "screen";
}

// Root calling: a fresh environment of the owner's. The owner calling: its
// own environment without TMUX (it is the owner's own business), TZ
// included.
std::vector<std::string> tmux_env_build(const Account& owner, bool drop)
{
    std::vector<std::string> env;
    if (!drop) {
        for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
            if (std::strncmp(*e, "TMUX=", 5) != 0)
                env.emplace_back(*e);
        }
        if (caller_time_zone())
            env.push_back("TZ=" + *caller_time_zone());
        return env;
    }
    env = {"HOME=" + owner.home,      "USER=" + owner.name, "LOGNAME=" + owner.name,
           "SHELL=" + owner.shell,    "PATH=/usr/bin:/bin", "TERM=" + term_pick(),
           "LANG=C.UTF-8"};
    return env;
}

// tmux [-N] -S SOCKET ARGS...
std::vector<std::string> tmux_argv_build(const std::string& tmux, const tg::CompiledShare& share,
                                         const std::vector<std::string>& args, TmuxStart start)
{
    std::vector<std::string> argv{tmux};
    if (start == TmuxStart::never)
        argv.emplace_back("-N");
    argv.emplace_back("-S");
    argv.push_back(share.socket);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

// Writes a message to the child's stderr (the pipe) and aborts.
[[noreturn]] void child_abort(const char* msg)
{
    ssize_t ignored = ::write(STDERR_FILENO, msg, std::strlen(msg));
    (void)ignored;
    std::abort();
}

// Permanently becomes the owner and proves it (STYLE.md 4).
void child_ids_drop(const ChildPlan& p)
{
    if (::setgroups(p.groups.size(), p.groups.data()) != 0)
        child_abort("tmuxguard: setgroups failed\n");
    if (::setresgid(p.gid, p.gid, p.gid) != 0)
        child_abort("tmuxguard: setresgid failed\n");
    if (::setresuid(p.uid, p.uid, p.uid) != 0)
        child_abort("tmuxguard: setresuid failed\n");
    uid_t ru = 0, eu = 0, su = 0;
    gid_t rg = 0, eg = 0, sg = 0;
    if (::getresuid(&ru, &eu, &su) != 0 || ru != p.uid || eu != p.uid || su != p.uid)
        child_abort("tmuxguard: uid not dropped\n");
    if (::getresgid(&rg, &eg, &sg) != 0 || rg != p.gid || eg != p.gid || sg != p.gid)
        child_abort("tmuxguard: gid not dropped\n");
    if (p.uid != 0 && ::setresuid(0, 0, 0) == 0)
        child_abort("tmuxguard: root regained after drop\n");
    if (p.uid != 0 && p.gid != 0 && ::setresgid(0, 0, 0) == 0)
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
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig)
        ::signal(sig, SIG_DFL);
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

// The child: reset, become the owner, chdir, exec. Never returns.
[[noreturn]] void child_run(const ChildPlan& p, char* const* argv, char* const* envp, int out_w,
                            int err_w)
{
    child_process_reset(out_w, err_w);
    if (p.drop)
        child_ids_drop(p);
    else if (::getuid() != p.uid || ::geteuid() != p.uid)
        child_abort("tmuxguard: caller is not the share owner\n");
    if ((p.home.empty() || p.home[0] != '/' || ::chdir(p.home.c_str()) != 0) && ::chdir("/") != 0)
        child_abort("tmuxguard: cannot change directory\n");
    ::execve(p.tmux.c_str(), argv, envp);
    child_abort("tmuxguard: cannot execute tmux\n");
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
bool pipe_read_some(int fd, std::string& into)
{
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 && errno == EAGAIN;
        into.append(buf, static_cast<std::size_t>(n));
        if (into.size() > kMaxOutput)
            return false;
    }
}

// Kills the child's process group (it is a session leader, so the group
// holds only its descendants; a daemonised tmux server is not among them)
// and reaps the child, after a timeout or runaway output.
void child_kill(pid_t pid)
{
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

// Reads both pipes until the child exits (pidfd), within the deadline, then
// reaps it. A grandchild keeping a pipe open cannot hold us.
tg::Result<TmuxResult> child_collect(pid_t pid, int pidfd, int out_r, int err_r)
{
    TmuxResult r;
    struct timespec deadline {};
    ::clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += kTimeoutMs / 1000;
    struct pollfd fds[3] = {{out_r, POLLIN, 0}, {err_r, POLLIN, 0}, {pidfd, POLLIN, 0}};
    bool exited = false;
    while (!exited) {
        int left = deadline_left_ms(deadline);
        int n = left == 0 ? 0 : ::poll(fds, 3, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            child_kill(pid);
            return tg::fail("tmux-timeout", n < 0 ? errno : 0, {}, "tmux did not finish in time");
        }
        exited = (fds[2].revents & POLLIN) != 0;
        for (int i = 0; i < 2; ++i) {
            std::string& into = i == 0 ? r.out : r.err;
            if ((fds[i].revents != 0 || exited) && fds[i].fd >= 0 && !pipe_read_some(fds[i].fd, into))
                fds[i].fd = -1;
        }
        if (r.out.size() + r.err.size() > kMaxOutput) {
            child_kill(pid);
            return tg::fail("tmux-output-too-large", 0, {}, "tmux wrote too much");
        }
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return tg::fail("exec-setup", errno, {}, "waitpid");
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

// The plan for running tmux as `owner`; refuses a caller that is neither
// root nor the owner.
tg::Result<ChildPlan> child_plan_build(const std::string& tmux, const tg::CompiledShare& share,
                                       const Account& owner, const std::vector<std::string>& args,
                                       TmuxStart start)
{
    ChildPlan p;
    p.drop = caller_is_root();
    if (!p.drop && (::getuid() != owner.uid || ::geteuid() != owner.uid))
        return tg::fail("not-owner", 0, share.name, "only the owner or root may run tmux for it");
    if (tg::Result<void> ok = tg::check_trusted_file(tmux); !ok)
        return tg::fail("tmux-untrusted", ok.error().err, tmux, ok.error().message());
    p.uid = owner.uid;
    p.gid = owner.gid;
    p.groups = nss_account_groups(owner);
    p.tmux = tmux;
    p.home = owner.home;
    p.argv = tmux_argv_build(tmux, share, args, start);
    p.env = tmux_env_build(owner, p.drop);
    return p;
}

}  // namespace

// Contract for tmux_run_as(), the only place the CLI starts a tmux client
// aimed at a share's server. It MUST:
//  1. run the client as the share's owner: when the caller is root, the
//     child calls setgroups(owner's groups), setresgid(g,g,g) and
//     setresuid(u,u,u) in that order, reads the ids back with getresuid /
//     getresgid and aborts unless all are the owner's, and aborts if
//     setresuid(0,0,0) then succeeds (a root-owned share is the only case
//     that runs as root);
//  2. when the caller is not root, run only for the owner itself (real and
//     effective uid), changing no ids;
//  3. hand the child nothing of the caller's: stdin /dev/null, stdout and
//     stderr pipes, every other descriptor closed, a new session without a
//     controlling terminal (so a server the owner controls cannot reach the
//     caller's terminal with TIOCSTI or escape sequences), default signal
//     dispositions and an empty mask, no core dumps;
//  4. build the environment from nothing for root (HOME USER LOGNAME SHELL
//     of the owner, PATH=/usr/bin:/bin, a valid TERM or "screen",
//     LANG=C.UTF-8); the owner keeps its own environment minus TMUX;
//  5. chdir to the owner's home as the owner, else "/";
//  6. exec the configured tmux only if it is a trusted (root-owned, not
//     group/other writable) file, with argv built here: -N unless starting
//     a server, and always -S SOCKET; nothing goes through a shell;
//  7. bound the run: SIGKILL after kTimeoutMs or kMaxOutput bytes, so a
//     hostile server cannot hang or flood the caller;
//  8. return the exit status and the output as data, never printed raw.
tg::Result<TmuxResult> tmux_run_as(const std::string& tmux, const tg::CompiledShare& share,
                                   const Account& owner, const std::vector<std::string>& args,
                                   TmuxStart start)
{
    tg::Result<ChildPlan> plan = child_plan_build(tmux, share, owner, args, start);
    if (!plan)
        return std::unexpected(plan.error());
    int out_p[2] = {-1, -1};
    int err_p[2] = {-1, -1};
    if (::pipe2(out_p, O_CLOEXEC) != 0)
        return tg::fail("exec-setup", errno, {}, "pipe");
    tg::UniqueFd out_r(out_p[0]), out_w(out_p[1]);
    if (::pipe2(err_p, O_CLOEXEC) != 0)
        return tg::fail("exec-setup", errno, {}, "pipe");
    tg::UniqueFd err_r(err_p[0]), err_w(err_p[1]);
    std::vector<char*> argv = cstr_array(plan->argv);
    std::vector<char*> envp = cstr_array(plan->env);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0)
        return tg::fail("exec-setup", errno, {}, "fork");
    if (pid == 0)
        child_run(*plan, argv.data(), envp.data(), out_w.get(), err_w.get());
    out_w.reset();
    err_w.reset();
    // glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the kernel directly.
    tg::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd.valid()) {
        int saved = errno;
        child_kill(pid);
        return tg::fail("exec-setup", saved, {}, "pidfd_open");
    }
    ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
    return child_collect(pid, pidfd.get(), out_r.get(), err_r.get());
}

}  // namespace tgcli
