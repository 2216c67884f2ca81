// The world of one e2e run: the installed test prefix, a gate group, a team
// group and seven accounts, all named TAG-... ("tg" + 5 hex digits).
//
// Contract (what keeps a crashed run from leaking accounts):
//  1. every name is written to kStateFile before it is created;
//  2. a run starts by removing what an earlier run's kStateFile lists (names
//     matching ^tg[0-9a-f]{5}- only) and the whole test prefix;
//  3. the cleanup commands are built before anything is created, so the
//     signal handler (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV,
//     SIGBUS, SIGFPE) and the atexit hook only kill, fork and execve;
//  4. cleanup runs once, in the test process only (never in a forked child);
//  5. the prefix it installs into and removes is the one baked into the build,
//     and only /opt/tmuxguard-test (or /opt/tmuxguard-test-NAME, for a second
//     developer tree on one machine) is accepted.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

// Set-up checks fail non-fatally and make the enclosing bool function return
// false: a fatal failure in a global set-up makes GoogleTest report every test
// as skipped, and this suite must fail, never skip. E2E::SetUp() then fails
// each test while the world is incomplete.
#define WORLD_REQUIRE(cond) \
    if (cond) {             \
    } else                  \
        return ::tge2e::WorldFail{__FILE__, __LINE__} = ::testing::Message()

namespace tge2e {
namespace fs = std::filesystem;

// Records a set-up failure at FILE:LINE; evaluates to false.
struct WorldFail {
    const char* file;
    int line;
    bool operator=(const ::testing::Message& m) const
    {
        ADD_FAILURE_AT(file, line) << m;
        return false;
    }
};

namespace {

constexpr const char* kStateFile = "/var/lib/tmuxguard-e2e.leftovers";
constexpr const char* kLockFile = "/var/lib/tmuxguard-e2e.lock";
constexpr std::array<const char*, 7> kRoles = {"owner",  "viewer", "typist", "nobody",
                                               "denied", "member", "other"};
constexpr int kMaxUids = 16;
constexpr int kMaxPids = 256;

// Everything the async-signal-safe cleanup needs, prepared in advance.
struct CleanupState {
    std::atomic<bool> armed{false};
    std::atomic<bool> done{false};
    pid_t owner_pid = 0;
    std::array<uid_t, kMaxUids> uids{};
    std::atomic<int> nuids{0};
    std::array<pid_t, kMaxPids> pids{};
    std::atomic<int> npids{0};
    std::vector<std::vector<std::string>> cmds;  // frozen once armed
    std::vector<std::vector<char*>> argvs;
};

CleanupState g_cleanup;

// The install prefix baked into this build: the wrapper's path minus "/bin/tmuxguard-attach".
const std::string& prefix_baked()
{
    static const std::string prefix = [] {
        std::string p = tg::paths::attach_path;
        const std::string tail = "/bin/tmuxguard-attach";
        if (p.size() > tail.size() && p.compare(p.size() - tail.size(), tail.size(), tail) == 0)
            p.resize(p.size() - tail.size());
        return p;
    }();
    return prefix;
}

// Whether `prefix` is one the suite may install into and remove.
bool prefix_is_test_prefix(const std::string& prefix)
{
    static const std::regex ok("^/opt/tmuxguard-test(-[a-z0-9]+)?$");
    return std::regex_match(prefix, ok);
}

// Parses "Uid:\t<real>" and "State:\t<c>" out of /proc/PID/status without allocating.
bool status_uid_alive(const char* pid_name, uid_t& uid)
{
    char path[64] = "/proc/";
    std::size_t len = 6;
    for (const char* p = pid_name; *p != '\0' && len < 40; ++p)
        path[len++] = *p;
    for (const char* p = "/status"; *p != '\0'; ++p)
        path[len++] = *p;
    path[len] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[2048];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char* state = std::strstr(buf, "\nState:\t");
    const char* uidp = std::strstr(buf, "\nUid:\t");
    if (state == nullptr || uidp == nullptr || state[8] == 'Z' || state[8] == 'X')
        return false;
    uid = static_cast<uid_t>(std::strtoul(uidp + 6, nullptr, 10));
    return true;
}

bool uid_is_ours(uid_t uid)
{
    int n = g_cleanup.nuids.load();
    for (int i = 0; i < n; ++i) {
        if (g_cleanup.uids[static_cast<std::size_t>(i)] == uid)
            return true;
    }
    return false;
}

// SIGKILLs every live process of the run's accounts; returns how many it found.
int cleanup_kill_accounts()
{
    int dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    int found = 0;
    alignas(8) char buf[8192];
    ssize_t n;
    while ((n = getdents64(dfd, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            auto* d = reinterpret_cast<struct dirent64*>(buf + off);
            off += d->d_reclen;
            uid_t uid = 0;
            if (d->d_name[0] < '1' || d->d_name[0] > '9' || !status_uid_alive(d->d_name, uid) ||
                !uid_is_ours(uid))
                continue;
            kill(static_cast<pid_t>(std::strtol(d->d_name, nullptr, 10)), SIGKILL);
            ++found;
        }
    }
    close(dfd);
    return found;
}

void cleanup_exec_quiet(char* const* argv)
{
    static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    static char* envp[] = {path_env, nullptr};
    pid_t pid = fork();
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    int ws = 0;
    while (pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
}

// Removes everything of the run. Async-signal-safe once armed; runs once.
void cleanup_run()
{
    if (!g_cleanup.armed.load() || getpid() != g_cleanup.owner_pid || g_cleanup.done.exchange(true))
        return;
    int npids = g_cleanup.npids.load();
    for (int i = 0; i < npids; ++i)
        kill(g_cleanup.pids[static_cast<std::size_t>(i)], SIGKILL);
    for (int round = 0; round < 30 && cleanup_kill_accounts() > 0; ++round) {
        struct timespec ts = {0, 100'000'000};
        nanosleep(&ts, nullptr);
    }
    for (auto& argv : g_cleanup.argvs)
        cleanup_exec_quiet(argv.data());
}

void cleanup_on_signal(int sig)
{
    cleanup_run();
    raise(sig);  // SA_RESETHAND: the default action now
}

void cleanup_at_exit()
{
    cleanup_run();
}

// Prepares the commands that remove accounts, groups, sockets and the prefix.
void cleanup_arm(const std::string& tag, const std::vector<std::string>& users,
                 const std::vector<std::string>& groups)
{
    auto& c = g_cleanup;
    c.cmds.push_back({"/bin/sh", "-c", "rm -f /tmp/tmux-0/" + tag + "-*"});
    for (const auto& u : users)
        c.cmds.push_back({"/usr/sbin/userdel", "-f", "-r", u});
    for (const auto& g : groups)
        c.cmds.push_back({"/usr/sbin/groupdel", g});
    c.cmds.push_back({"/bin/rm", "-rf", prefix_baked()});
    c.cmds.push_back({"/bin/rm", "-f", kStateFile});
    for (auto& cmd : c.cmds) {
        std::vector<char*> argv;
        for (auto& s : cmd)
            argv.push_back(s.data());
        argv.push_back(nullptr);
        c.argvs.push_back(std::move(argv));
    }
    c.owner_pid = getpid();
    c.armed = true;
}

void cleanup_uid_add(uid_t uid)
{
    int i = g_cleanup.nuids.load();
    if (i >= kMaxUids)
        return;
    g_cleanup.uids[static_cast<std::size_t>(i)] = uid;
    g_cleanup.nuids = i + 1;
}

std::string tag_random()
{
    unsigned char bytes[3] = {};
    if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
        return {};
    char hex[8];
    std::snprintf(hex, sizeof hex, "%02x%02x%02x", bytes[0], bytes[1], bytes[2]);
    return std::string("tg") + std::string(hex, 5);
}

bool file_append_sync(const char* path, const std::string& text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    WORLD_REQUIRE(fd >= 0) << path << ": " << std::strerror(errno);
    ssize_t n = write(fd, text.data(), text.size());
    fsync(fd);
    close(fd);
    WORLD_REQUIRE(n == static_cast<ssize_t>(text.size())) << path << ": short write";
    return true;
}

bool dir_make_root(const std::string& path)
{
    std::error_code ec;
    fs::create_directories(path, ec);
    WORLD_REQUIRE(!ec) << path << ": " << ec.message();
    WORLD_REQUIRE(chown(path.c_str(), 0, 0) == 0 && chmod(path.c_str(), 0755) == 0)
        << path << ": " << std::strerror(errno);
    return true;
}

// A directory the trusted-path checks accept: root-owned, not writable by group or other.
bool dir_is_trusted(const char* path)
{
    struct stat st {};
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
           (st.st_mode & 022) == 0;
}

RunResult root_run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = kWait)
{
    RunOptions opt;
    opt.timeout = timeout;
    return proc_run(argv, opt);
}

}  // namespace

std::string path_prefix()
{
    return prefix_baked();
}
std::string path_attach()
{
    return tg::paths::attach_path;
}
std::string path_cli()
{
    return prefix_baked() + "/sbin/tmuxguard";
}
std::string path_runtime_dir()
{
    return prefix_baked() + "/run";
}
std::string path_scratch()
{
    return prefix_baked() + "/e2e";
}
std::string path_outer_conf()
{
    return path_scratch() + "/outer.conf";
}

World& World::get()
{
    static World w;
    return w;
}

void world_cleanup_install()
{
    struct sigaction sa {};
    sa.sa_handler = cleanup_on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE})
        sigaction(sig, &sa, nullptr);
    std::atexit(cleanup_at_exit);
}

void World::setup()
{
    complete_ = world_setup_steps();
}

bool World::world_setup_steps()
{
    WORLD_REQUIRE(geteuid() == 0) << "the e2e tests create accounts and install a setgid wrapper: "
                                     "run them as root (sudo tests/run-all.sh)";
    const std::string& prefix = prefix_baked();
    WORLD_REQUIRE(prefix_is_test_prefix(prefix))
        << "refusing to run: this build installs into " << prefix
        << ", not /opt/tmuxguard-test (configure with -DCMAKE_INSTALL_PREFIX=/opt/tmuxguard-test)";
    for (const char* p : {tg::paths::policy_file, tg::paths::policy_dir, tg::paths::compiled_policy,
                          tg::paths::default_log}) {
        WORLD_REQUIRE(std::string_view(p).rfind(prefix + "/", 0) == 0)
            << "refusing to run: this build bakes in " << p << ", outside " << prefix
            << " (GNUInstallDirs puts etc and var of an /opt prefix under /etc/opt and /var/opt; "
               "configure with -DCMAKE_INSTALL_SYSCONFDIR="
            << prefix
            << "/etc "
               "-DCMAKE_INSTALL_LOCALSTATEDIR="
            << prefix << "/var, as tests/run-all.sh does)";
    }
    lock_fd_ = open(kLockFile, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    WORLD_REQUIRE(lock_fd_ >= 0) << kLockFile << ": " << std::strerror(errno);
    WORLD_REQUIRE(wait_until([this] { return flock(lock_fd_, LOCK_EX | LOCK_NB) == 0; }, 600s))
        << "another e2e run holds " << kLockFile;
    world_leftovers_remove();
    tag_ = tag_random();
    WORLD_REQUIRE(tag_.size() == 7) << "getrandom failed";
    gate_group_ = tag_ + "-gate";
    team_group_ = tag_ + "-team";
    if (!world_state_write())
        return false;
    ready_ = true;
    return world_prefix_install() && world_accounts_create() && world_wrapper_setgid();
}

void World::teardown()
{
    if (!ready_)
        return;
    cleanup_run();
    for (const auto& a : accounts_)
        EXPECT_EQ(getpwnam(a.name.c_str()), nullptr) << "account left behind: " << a.name;
    const std::string odd = tag_ + kOddSuffix;
    EXPECT_EQ(getpwnam(odd.c_str()), nullptr) << "account left behind: " << odd;
    EXPECT_EQ(getgrnam(gate_group_.c_str()), nullptr) << "group left behind: " << gate_group_;
    EXPECT_FALSE(fs::exists(prefix_baked())) << prefix_baked() << " left behind";
    if (lock_fd_ >= 0)
        close(lock_fd_);
    lock_fd_ = -1;
}

void World::world_leftovers_remove()
{
    static const std::regex ours("^tg[0-9a-f]{5}-[a-z0-9-]+$");
    static const std::regex tag_ok("^tg[0-9a-f]{5}$");
    std::ifstream in(kStateFile);
    std::string kind, name, tag;
    std::vector<std::string> groups;
    while (in >> kind >> name) {
        if (kind == "prefix" && prefix_is_test_prefix(name))
            fs::remove_all(name);
        if (kind == "tag" && std::regex_match(name, tag_ok))
            tag = name;
        const bool odd = kind == "user" && !tag.empty() && name == tag + kOddSuffix;
        if (!odd && !std::regex_match(name, ours))
            continue;
        if (kind == "outer") {
            (void)root_run({"tmux", "-L", name, "kill-server"});
            fs::remove("/tmp/tmux-0/" + name);
        } else if (kind == "user" && getpwnam(name.c_str()) != nullptr) {
            for (pid_t pid : proc_list_by_uid(getpwnam(name.c_str())->pw_uid))
                kill(pid, SIGKILL);
            (void)root_run({"userdel", "-f", "-r", name});
        } else if (kind == "group") {
            groups.push_back(name);  // after the users: a user-private group goes with its user
        }
    }
    for (const auto& g : groups)
        (void)root_run({"groupdel", g});
    std::error_code ec;
    fs::remove_all(prefix_baked(), ec);
    fs::remove(kStateFile, ec);
}

bool World::world_state_write()
{
    std::string text = "prefix " + prefix_baked() + "\ntag " + tag_ + "\n";
    text += "group " + gate_group_ + "\ngroup " + team_group_ + "\n";
    std::vector<std::string> users;
    for (const char* role : kRoles) {
        users.push_back(tag_ + "-" + role);
        text += "user " + users.back() + "\n";
    }
    users.push_back(tag_ + kOddSuffix);
    text += "user " + users.back() + "\n";
    if (!file_append_sync(kStateFile, text))
        return false;
    cleanup_arm(tag_, users, {gate_group_, team_group_});
    return true;
}

bool World::world_prefix_install()
{
    WORLD_REQUIRE(dir_is_trusted("/") && dir_is_trusted("/opt"))
        << "/ and /opt must be root-owned and not writable by group or other";
    const std::string& prefix = prefix_baked();
    RunResult r = root_run({"cmake", "--install", TG_BUILD_DIR, "--prefix", prefix}, 120s);
    WORLD_REQUIRE(r.status == 0) << "cmake --install " << TG_BUILD_DIR << "\n" << r.both();
    for (const char* sub : {"", "/etc/tmuxguard", "/etc/tmuxguard/policy.d", "/var/lib/tmuxguard",
                            "/var/log/tmuxguard", "/run", "/e2e"})
        if (!dir_make_root(prefix + sub))
            return false;
    r = root_run({"chown", "-R", "root:root", prefix});
    WORLD_REQUIRE(r.status == 0) << r.both();
    r = root_run({"find", prefix, "-type", "d", "-exec", "chmod", "0755", "{}", "+"});
    WORLD_REQUIRE(r.status == 0) << r.both();
    std::ofstream conf(path_outer_conf());
    conf << "set -g remain-on-exit on\nset -g default-shell /bin/sh\nset -g status off\n"
            "set -g history-limit 2000\n";
    conf.close();
    WORLD_REQUIRE(conf.good()) << path_outer_conf();
    return true;
}

bool World::world_accounts_create()
{
    for (const auto& g : {gate_group_, team_group_}) {
        RunResult r = root_run({"groupadd", g});
        WORLD_REQUIRE(r.status == 0) << "groupadd " << g << "\n" << r.both();
    }
    for (const char* role : kRoles) {
        Account a;
        a.role = role;
        a.name = tag_ + "-" + role;
        std::vector<std::string> cmd = {"useradd", "-m", "-s", "/bin/sh"};
        if (a.role == "member")
            cmd.insert(cmd.end(), {"-G", team_group_});
        cmd.push_back(a.name);
        RunResult r = root_run(cmd);
        const struct passwd* pw = getpwnam(a.name.c_str());
        WORLD_REQUIRE(r.status == 0 && pw != nullptr) << "useradd " << a.name << "\n" << r.both();
        a.uid = pw->pw_uid;
        a.gid = pw->pw_gid;
        a.home = pw->pw_dir;
        cleanup_uid_add(a.uid);
        accounts_.push_back(a);
    }
    const struct group* gr = getgrnam(gate_group_.c_str());
    WORLD_REQUIRE(gr != nullptr) << gate_group_;
    gate_gid_ = gr->gr_gid;
    return true;
}

bool World::world_wrapper_setgid()
{
    const std::string wrapper = path_attach();
    WORLD_REQUIRE(chown(wrapper.c_str(), 0, gate_gid_) == 0 && chmod(wrapper.c_str(), 02755) == 0)
        << wrapper << ": " << std::strerror(errno);
    return true;
}

const Account& World::user(std::string_view role) const
{
    for (const auto& a : accounts_) {
        if (a.role == role)
            return a;
    }
    static const Account none{"none", "root-never", 0, 0, "/"};
    ADD_FAILURE() << "no account for role " << role << " (did the world set up?)";
    return none;
}

const Account& World::odd_user()
{
    if (!odd_.name.empty())
        return odd_;
    const std::string name = tag_ + kOddSuffix;
    RunResult r = root_run({"useradd", "--badname", "-m", "-s", "/bin/sh", name});
    const struct passwd* pw = getpwnam(name.c_str());
    if (r.status != 0 || pw == nullptr) {
        ADD_FAILURE() << "useradd --badname " << name << "\n" << r.both();
        static const Account none{"none", "root-never", 0, 0, "/"};
        return none;
    }
    cleanup_uid_add(pw->pw_uid);
    odd_ = Account{"odd", name, pw->pw_uid, pw->pw_gid, pw->pw_dir};
    return odd_;
}

std::string World::unique_name(std::string_view what)
{
    return tag_ + "-" + std::string(what) + std::to_string(++counter_);
}

void World::outer_register_name(const std::string& name)
{
    (void)file_append_sync(kStateFile, "outer " + name + "\n");
}

void World::outer_register_pid(pid_t pid)
{
    int i = g_cleanup.npids.load();
    if (i >= kMaxPids || pid <= 0)
        return;
    g_cleanup.pids[static_cast<std::size_t>(i)] = pid;
    g_cleanup.npids = i + 1;
}

}  // namespace tge2e
