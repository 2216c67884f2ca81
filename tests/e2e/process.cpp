// Running commands as test accounts, with captured output and bounded waits.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace tge2e {
namespace {

constexpr const char* kSearchPath[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                       "/usr/bin",        "/sbin",          "/bin"};

// Who a child becomes, looked up in the parent (no NSS after fork).
struct Identity {
    bool drop = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string name;
    std::string home = "/";
};

// The ids and groups of `user` (no drop for an empty name).
Identity identity_lookup(const std::string& user)
{
    Identity id;
    if (user.empty())
        return id;
    const struct passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr)
        return id;  // exec as root would be wrong: proc_spawn refuses below
    id.drop = true;
    id.uid = pw->pw_uid;
    id.gid = pw->pw_gid;
    id.name = pw->pw_name;
    id.home = pw->pw_dir;
    int n = 64;
    id.groups.resize(static_cast<std::size_t>(n));
    if (getgrouplist(pw->pw_name, pw->pw_gid, id.groups.data(), &n) < 0) {
        id.groups.resize(static_cast<std::size_t>(n));  // n is now the number needed
        if (getgrouplist(pw->pw_name, pw->pw_gid, id.groups.data(), &n) < 0)
            n = 0;
    }
    id.groups.resize(static_cast<std::size_t>(n));
    return id;
}

// `name` searched in kSearchPath unless it holds a slash.
std::string exe_resolve(const std::string& name)
{
    if (name.find('/') != std::string::npos)
        return name;
    for (const char* dir : kSearchPath) {
        std::string p = std::string(dir) + "/" + name;
        if (access(p.c_str(), X_OK) == 0)
            return p;
    }
    return name;
}

// A minimal login-like environment for the identity, plus `extra`.
std::vector<std::string> env_build(const Identity& id, const std::vector<std::string>& extra)
{
    std::vector<std::string> env;
    if (id.drop) {
        env = {"HOME=" + id.home, "USER=" + id.name, "LOGNAME=" + id.name, "SHELL=/bin/sh",
               "PATH=/usr/local/bin:/usr/bin:/bin"};
    } else {
        env = {"HOME=/root", "USER=root", "LOGNAME=root",
               "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    }
    env.push_back("LANG=C.UTF-8");
    env.push_back("TERM=xterm-256color");
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

// A NULL-terminated char* array over `v` (valid while `v` lives).
std::vector<char*> cstr_array(std::vector<std::string>& v)
{
    std::vector<char*> out;
    for (auto& s : v)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// The child side of proc_spawn(): only async-signal-safe calls.
[[noreturn]] void child_exec(const Identity& id, const char* path, char* const* argv,
                             char* const* envp, int out_fd, int err_fd)
{
    setpgid(0, 0);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(126);
    closefrom(3);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (id.drop) {
        if (setgroups(id.groups.size(), id.groups.data()) != 0 ||
            setresgid(id.gid, id.gid, id.gid) != 0 || setresuid(id.uid, id.uid, id.uid) != 0)
            _exit(125);
    }
    if (chdir(id.home.c_str()) != 0 && chdir("/") != 0)
        _exit(124);
    execve(path, argv, envp);
    _exit(127);
}

// One read into `into`; closes and clears `fd` at EOF or error.
void fd_drain(int& fd, std::string& into)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
        into.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fd);
        fd = -1;
    }
}

// Exit status, or 128+N for a death by signal N.
int status_decode(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return -1;
}


// The parent pid field of /proc/PID/stat, -1 when the process is gone.
pid_t proc_parent(pid_t pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos || close_paren + 4 >= text.size())
        return -1;
    return static_cast<pid_t>(std::strtol(text.c_str() + close_paren + 4, nullptr, 10));
}

// The real uid of a process from /proc/PID/status (/proc/PID itself is
// owned by root for a non-dumpable process such as the wrapper), -1 if gone.
long proc_real_uid(pid_t pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("Uid:", 0) == 0)
            return std::strtol(line.c_str() + 4, nullptr, 10);
    }
    return -1;
}

}  // namespace

// The state letter of /proc/PID/stat, NUL when the process is gone.
char proc_state(pid_t pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos || close_paren + 2 >= text.size())
        return '\0';
    return text[close_paren + 2];
}

std::string RunResult::both() const
{
    return "exit " + std::to_string(status) + (timed_out ? " (timed out)" : "") +
           "\n--- stdout:\n" + out + "--- stderr:\n" + err;
}

Child proc_spawn(const std::vector<std::string>& argv, const RunOptions& opt)
{
    Identity id = identity_lookup(opt.user);
    if (!opt.user.empty() && !id.drop) {
        ADD_FAILURE() << "no such account: " << opt.user;
        return {};
    }
    std::string path = exe_resolve(argv.at(0));
    std::vector<std::string> args = argv;
    std::vector<std::string> env = env_build(id, opt.extra_env);
    std::vector<char*> c_args = cstr_array(args);
    std::vector<char*> c_env = cstr_array(env);
    if (opt.empty_argv)
        c_args = {nullptr};
    int out_pipe[2];
    int err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << std::strerror(errno);
        return {};
    }
    pid_t pid = fork();
    if (pid == 0)
        child_exec(id, path.c_str(), c_args.data(), c_env.data(), out_pipe[1], err_pipe[1]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (pid < 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        ADD_FAILURE() << "fork: " << std::strerror(errno);
        return {};
    }
    return Child{pid, out_pipe[0], err_pipe[0]};
}

RunResult proc_collect(Child& c, std::chrono::milliseconds timeout)
{
    RunResult r;
    r.pid = c.pid;
    if (c.pid < 0)
        return r;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<std::chrono::steady_clock::time_point> exited_at;
    while (c.out_fd >= 0 || c.err_fd >= 0 || !exited_at) {
        auto now = std::chrono::steady_clock::now();
        // A daemon that inherited a pipe must not hold us: 300 ms after exit, stop reading.
        if (now > deadline || (exited_at && now - *exited_at > 300ms))
            break;
        pollfd fds[2] = {{c.out_fd, POLLIN, 0}, {c.err_fd, POLLIN, 0}};
        if (poll(fds, 2, 50) > 0) {
            if (c.out_fd >= 0 && fds[0].revents != 0)
                fd_drain(c.out_fd, r.out);
            if (c.err_fd >= 0 && fds[1].revents != 0)
                fd_drain(c.err_fd, r.err);
        }
        int ws = 0;
        if (!exited_at && waitpid(c.pid, &ws, WNOHANG) == c.pid) {
            r.status = status_decode(ws);
            exited_at = std::chrono::steady_clock::now();
        }
    }
    if (!exited_at) {
        kill(-c.pid, SIGKILL);
        kill(c.pid, SIGKILL);
        int ws = 0;
        waitpid(c.pid, &ws, 0);
        r.timed_out = true;
        r.status = -1;
    }
    for (int* fd : {&c.out_fd, &c.err_fd}) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
    }
    return r;
}

RunResult proc_run(const std::vector<std::string>& argv, const RunOptions& opt)
{
    Child c = proc_spawn(argv, opt);
    return proc_collect(c, opt.timeout);
}

RunResult proc_run_as(const std::string& user, const std::vector<std::string>& argv,
                      std::vector<std::string> extra_env)
{
    RunOptions opt;
    opt.user = user;
    opt.extra_env = std::move(extra_env);
    return proc_run(argv, opt);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (pred())
            return true;
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(50ms);
    }
}

bool proc_is_alive(pid_t pid)
{
    char state = proc_state(pid);
    return state != '\0' && state != 'Z' && state != 'X';
}

std::vector<pid_t> proc_list_by_uid(uid_t uid)
{
    std::vector<pid_t> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        pid_t pid = static_cast<pid_t>(std::stol(name));
        if (proc_real_uid(pid) == static_cast<long>(uid) && proc_is_alive(pid))
            out.push_back(pid);
    }
    return out;
}

std::vector<pid_t> proc_children(pid_t parent)
{
    std::vector<pid_t> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        pid_t pid = static_cast<pid_t>(std::stol(name));
        if (proc_parent(pid) == parent && proc_is_alive(pid))
            out.push_back(pid);
    }
    std::sort(out.begin(), out.end());
    return out;
}

void proc_stop(pid_t pid)
{
    if (pid <= 0 || !proc_is_alive(pid))
        return;
    kill(pid, SIGTERM);
    if (!wait_until([pid] { return !proc_is_alive(pid); }, 3s))
        kill(pid, SIGKILL);
    (void)wait_until([pid] { return !proc_is_alive(pid); }, 3s);
    int ws = 0;
    waitpid(pid, &ws, WNOHANG);  // reaps it if it was our own child
}

// The whole file, "" when unreadable.
std::string file_read(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The inode of the socket at `path` (lstat), 0 when there is no socket.
ino_t socket_inode(const std::string& path)
{
    struct stat st {};
    return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

// The blank-separated fields after "KEY:" in /proc/PID/status, {} if absent.
std::vector<std::string> proc_status_fields(pid_t pid, const std::string& key)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind(key + ":", 0) != 0)
            continue;
        std::istringstream words(line.substr(key.size() + 1));
        std::vector<std::string> out;
        for (std::string w; words >> w;)
            out.push_back(w);
        return out;
    }
    return {};
}

}  // namespace tge2e
