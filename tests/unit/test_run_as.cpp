// run_as() with real children (run_as.hpp). Each test names the contract
// clause it proves. The children are coreutils and /bin/sh reporting on
// themselves (id, /proc/self/status, /proc/self/fd, ...). Needs root: the
// children drop to numeric ids that need no account.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tmuxguard/run_as.hpp"
#include "support.hpp"

namespace {

constexpr uid_t kUser = 54321;
constexpr gid_t kUserGroup = 54322;
constexpr gid_t kExtraGroup1 = 54323;
constexpr gid_t kExtraGroup2 = 54324;
constexpr uid_t kStranger = 54399;

using tgtest::expect_refused;
using Clock = std::chrono::steady_clock;

// A plan that drops to kUser:kUserGroup with two extra groups.
tg::RunAsPlan plan_dropped(const std::string& program, std::vector<std::string> argv)
{
    tg::RunAsPlan p;
    p.drop = true;
    p.uid = kUser;
    p.gid = kUserGroup;
    p.groups = {kUserGroup, kExtraGroup1, kExtraGroup2};
    p.program = program;
    p.argv = std::move(argv);
    p.env = {"PATH=/usr/bin:/bin"};
    p.timeout_ms = 10000;
    return p;
}

// A plan that runs as the caller (root) without changing ids.
tg::RunAsPlan plan_as_caller(const std::string& program, std::vector<std::string> argv)
{
    tg::RunAsPlan p = plan_dropped(program, std::move(argv));
    p.drop = false;
    p.uid = 0;
    p.gid = 0;
    p.groups = {};
    return p;
}

// run_as(), asserting success; the result's status and output.
tg::RunAsResult run_ok(const tg::RunAsPlan& p)
{
    auto r = tg::run_as(p);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return r.value_or(tg::RunAsResult{});
}

// The value of "Name:\t..." in /proc/PID/status text, tabs turned to spaces
// and trimmed.
std::string status_field(const std::string& status, const std::string& name)
{
    std::istringstream in(status);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + ":", 0) != 0)
            continue;
        std::string v = line.substr(name.size() + 1);
        std::replace(v.begin(), v.end(), '\t', ' ');
        v.erase(0, v.find_first_not_of(' '));
        v.erase(v.find_last_not_of(' ') + 1);
        return v;
    }
    return "(no " + name + ")";
}

// Whitespace-separated words of `text`, sorted.
std::vector<std::string> words_sorted(const std::string& text)
{
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;)
        out.push_back(w);
    std::sort(out.begin(), out.end());
    return out;
}

// The names of the descriptors open in this process.
std::vector<std::string> fds_open()
{
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

// Whether process `pid` is gone (or a zombie, which runs nothing) within
// two seconds.
bool process_gone(pid_t pid)
{
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    for (int i = 0; i < 200; ++i) {
        std::ifstream in(path);
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::size_t close = stat.rfind(')');
        if (!in.is_open() || stat.empty() || (close != std::string::npos && stat.size() > close + 2 &&
                                               stat[close + 2] == 'Z'))
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

std::string file_read(const std::string& path)
{
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Restores the umask, signal dispositions, mask, groups, core limit and
// descriptor 0 that a test changes, also when it fails.
class CallerState {
public:
    CallerState()
    {
        umask_ = ::umask(022);
        ::umask(umask_);
        ::sigprocmask(SIG_SETMASK, nullptr, &mask_);
        for (int sig : {SIGPIPE, SIGUSR2, SIGCHLD})
            ::sigaction(sig, nullptr, &actions_[sig]);
        ngroups_ = ::getgroups(static_cast<int>(std::size(groups_)), groups_);
        ::getrlimit(RLIMIT_CORE, &core_);
    }
    CallerState(const CallerState&) = delete;
    CallerState& operator=(const CallerState&) = delete;
    ~CallerState()
    {
        ::umask(umask_);
        ::sigprocmask(SIG_SETMASK, &mask_, nullptr);
        for (int sig : {SIGPIPE, SIGUSR2, SIGCHLD})
            ::sigaction(sig, &actions_[sig], nullptr);
        if (ngroups_ >= 0)
            ::setgroups(static_cast<std::size_t>(ngroups_), groups_);
        ::setrlimit(RLIMIT_CORE, &core_);
    }

private:
    mode_t umask_ = 022;
    sigset_t mask_{};
    struct sigaction actions_[NSIG] {};
    gid_t groups_[256] {};
    int ngroups_ = -1;
    struct rlimit core_ {};
};

// Runs with descriptor 0 replaced by `fd` for its lifetime.
class StdinScope {
public:
    explicit StdinScope(int fd) : saved_(::fcntl(0, F_DUPFD_CLOEXEC, 10)) { ::dup2(fd, 0); }
    StdinScope(const StdinScope&) = delete;
    StdinScope& operator=(const StdinScope&) = delete;
    ~StdinScope()
    {
        if (saved_ >= 0) {
            ::dup2(saved_, 0);
            ::close(saved_);
        }
    }

private:
    int saved_;
};

// A root-owned 0755 temp dir under /var/lib for files the children write
// and directories they start in.
class RunAs : public tgtest::RootTree {
protected:
    RunAs() : RootTree("the children drop to other uids") {}
};

volatile sig_atomic_t g_sigchld_seen = 0;
void sigchld_count(int) { g_sigchld_seen = g_sigchld_seen + 1; }

// ---------------------------------------------------------------------------
// Clause 1: ids

TEST_F(RunAs, Clause1_DropRunsAsTheGivenUidGidAndGroups)
{
    EXPECT_EQ(run_ok(plan_dropped("/usr/bin/id", {"id", "-u"})).out, "54321\n");
    EXPECT_EQ(run_ok(plan_dropped("/usr/bin/id", {"id", "-g"})).out, "54322\n");
    EXPECT_EQ(words_sorted(run_ok(plan_dropped("/usr/bin/id", {"id", "-G"})).out),
              (std::vector<std::string>{"54322", "54323", "54324"}));
}

TEST_F(RunAs, Clause1_DroppedChildHoldsNoRootIdOrCapability)
{
    // All four uids (real, effective, saved, filesystem) are the target's
    // and no capability is left: setresuid(0,0,0) cannot succeed.
    const tg::RunAsResult r = run_ok(plan_dropped("/bin/cat", {"cat", "/proc/self/status"}));
    EXPECT_EQ(status_field(r.out, "Uid"), "54321 54321 54321 54321");
    EXPECT_EQ(status_field(r.out, "Gid"), "54322 54322 54322 54322");
    EXPECT_EQ(status_field(r.out, "Groups"), "54322 54323 54324");
    EXPECT_EQ(status_field(r.out, "CapPrm"), "0000000000000000");
    EXPECT_EQ(status_field(r.out, "CapEff"), "0000000000000000");
    EXPECT_EQ(status_field(r.out, "CapAmb"), "0000000000000000");
}

TEST_F(RunAs, Clause1_EmptyGroupsDropTheCallersSupplementaryGroups)
{
    CallerState restore;
    const gid_t mine[] = {0, 54330};
    ASSERT_EQ(::setgroups(2, mine), 0) << std::strerror(errno);
    tg::RunAsPlan p = plan_dropped("/bin/cat", {"cat", "/proc/self/status"});
    p.groups = {};
    EXPECT_EQ(status_field(run_ok(p).out, "Groups"), "");
}

TEST_F(RunAs, Clause1_WithoutDropAnotherUidIsRefusedAndNothingRuns)
{
    tg::RunAsPlan p = plan_as_caller("/usr/bin/touch", {"touch", at("ran")});
    p.uid = kStranger;
    expect_refused(tg::run_as(p), "not-target", std::to_string(kStranger));
    EXPECT_NE(::access(at("ran").c_str(), F_OK), 0);
}

TEST_F(RunAs, Clause1_WithoutDropTheCallersOwnUidRunsAsIs)
{
    tg::RunAsPlan p = plan_as_caller("/usr/bin/id", {"id", "-u"});
    p.groups = {kExtraGroup1};  // ignored without drop
    const tg::RunAsResult r = run_ok(p);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "0\n");
}

// ---------------------------------------------------------------------------
// Clause 2: nothing of the caller's

TEST_F(RunAs, Clause2_OnlyStdioReachesTheChild)
{
    // Descriptors without O_CLOEXEC, one low and one high, must not leak;
    // ls lists 0-2 and the descriptor of the directory it reads (3).
    tg::UniqueFd low(::open("/dev/null", O_RDONLY));
    ASSERT_TRUE(low.valid());
    tg::UniqueFd high(::dup2(low.get(), 200));
    ASSERT_EQ(high.get(), 200);
    const tg::RunAsResult r = run_ok(plan_dropped("/bin/ls", {"ls", "/proc/self/fd"}));
    EXPECT_EQ(r.out, "0\n1\n2\n3\n");
}

TEST_F(RunAs, Clause2_StdinIsDevNullAndStdoutStderrArePipes)
{
    const tg::RunAsResult r = run_ok(plan_dropped(
        "/usr/bin/readlink", {"readlink", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"}));
    std::istringstream in(r.out);
    std::string fd0, fd1, fd2;
    std::getline(in, fd0);
    std::getline(in, fd1);
    std::getline(in, fd2);
    EXPECT_EQ(fd0, "/dev/null");
    EXPECT_EQ(fd1.rfind("pipe:", 0), 0u) << fd1;
    EXPECT_EQ(fd2.rfind("pipe:", 0), 0u) << fd2;
    EXPECT_NE(fd1, fd2);
}

TEST_F(RunAs, Clause2_CallersStdinIsNotReadable)
{
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    tg::UniqueFd rd(p[0]), wr(p[1]);
    ASSERT_EQ(::write(wr.get(), "secret\n", 7), 7);
    wr.reset();
    tg::RunAsResult r;
    {
        StdinScope scope(rd.get());
        r = run_ok(plan_dropped("/bin/cat", {"cat"}));
    }
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "");
}

TEST_F(RunAs, Clause2_NewSessionWithoutControllingTerminal)
{
    const tg::RunAsResult r = run_ok(plan_dropped("/bin/cat", {"cat", "/proc/self/stat"}));
    const std::string pid = r.out.substr(0, r.out.find(' '));
    const std::size_t close = r.out.rfind(')');
    ASSERT_NE(close, std::string::npos) << r.out;
    std::istringstream in(r.out.substr(close + 1));
    std::string state, ppid, pgrp, session, tty_nr;
    in >> state >> ppid >> pgrp >> session >> tty_nr;
    // The program's parent is run_as's own child, the leader of a new
    // session and process group that the program is in.
    EXPECT_EQ(session, ppid) << r.out;
    EXPECT_EQ(pgrp, ppid) << r.out;
    EXPECT_EQ(tty_nr, "0") << r.out;
    EXPECT_NE(std::to_string(::getsid(0)), session);
    EXPECT_NE(std::to_string(::getpid()), ppid);
}

TEST_F(RunAs, Clause2_DefaultDispositionsAndEmptyMask)
{
    CallerState restore;
    ASSERT_NE(::signal(SIGPIPE, SIG_IGN), SIG_ERR);
    ASSERT_NE(::signal(SIGUSR2, SIG_IGN), SIG_ERR);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    ASSERT_EQ(::sigprocmask(SIG_BLOCK, &usr1, nullptr), 0);
    const tg::RunAsResult r = run_ok(plan_dropped("/bin/cat", {"cat", "/proc/self/status"}));
    EXPECT_EQ(status_field(r.out, "SigBlk"), "0000000000000000");
    EXPECT_EQ(status_field(r.out, "SigIgn"), "0000000000000000");
}

TEST_F(RunAs, Clause2_NoCoreDumps)
{
    CallerState restore;
    const struct rlimit big {RLIM_INFINITY, RLIM_INFINITY};
    ASSERT_EQ(::setrlimit(RLIMIT_CORE, &big), 0) << std::strerror(errno);
    const tg::RunAsResult r = run_ok(plan_dropped("/bin/cat", {"cat", "/proc/self/limits"}));
    std::istringstream in(r.out);
    std::string line;
    std::string core;
    while (std::getline(in, line)) {
        if (line.rfind("Max core file size", 0) == 0)
            core = line.substr(std::strlen("Max core file size"));
    }
    std::istringstream fields(core);
    std::string soft, hard;
    fields >> soft >> hard;
    EXPECT_EQ(soft, "0") << r.out;
    EXPECT_EQ(hard, "0") << r.out;
}

// ---------------------------------------------------------------------------
// Clause 3: exactly env and argv, exec directly, chdir

TEST_F(RunAs, Clause3_EnvironmentIsExactlyTheGivenOne)
{
    ASSERT_EQ(::setenv("TG_UNIT_LEAK", "caller", 1), 0);
    tg::RunAsPlan p = plan_dropped("/usr/bin/env", {"env"});
    p.env = {"A=1", "B=two words", "TERM=dumb"};
    const tg::RunAsResult r = run_ok(p);
    ::unsetenv("TG_UNIT_LEAK");
    EXPECT_EQ(r.out, "A=1\nB=two words\nTERM=dumb\n");
}

TEST_F(RunAs, Clause3_EmptyEnvironmentStaysEmpty)
{
    tg::RunAsPlan p = plan_dropped("/usr/bin/env", {"env"});
    p.env = {};
    EXPECT_EQ(run_ok(p).out, "");
}

TEST_F(RunAs, Clause3_ArgvIsExactlyTheGivenOne)
{
    // argv[0] need not name the program; no argument is split or expanded.
    const tg::RunAsResult r = run_ok(plan_dropped(
        "/bin/cat", {"not-cat", "/proc/self/cmdline"}));
    EXPECT_EQ(r.out, std::string("not-cat\0/proc/self/cmdline\0", 27));
    const tg::RunAsResult echo =
        run_ok(plan_dropped("/bin/echo", {"echo", "$(id -u)", ";", "*", "a  b"}));
    EXPECT_EQ(echo.out, "$(id -u) ; * a  b\n");
}

TEST_F(RunAs, Clause3_ProgramIsNotSplitNorSearchedInPath)
{
    const tg::RunAsResult r = run_ok(plan_dropped("/usr/bin/id -u", {"id", "-u"}));
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("cannot execute"), std::string::npos) << r.err;
    // Not searched in PATH: a bare name is refused before anything runs.
    auto bare = tg::run_as(plan_dropped("id", {"id", "-u"}));
    ASSERT_FALSE(bare.has_value());
    EXPECT_EQ(bare.error().reason, "exec-setup");
}

TEST_F(RunAs, Clause3_StartsInTheGivenDirectory)
{
    ASSERT_EQ(::mkdir(at("work").c_str(), 0700), 0);
    ASSERT_EQ(::chown(at("work").c_str(), kUser, kUserGroup), 0);
    tg::RunAsPlan p = plan_dropped("/bin/pwd", {"pwd"});
    p.dir = at("work");
    EXPECT_EQ(run_ok(p).out, at("work") + "\n");
}

TEST_F(RunAs, Clause3_DirectoryTheTargetCannotEnterGivesSlash)
{
    // Root could enter it; the target cannot: the chdir is done as the target.
    ASSERT_EQ(::mkdir(at("private").c_str(), 0700), 0);
    tg::RunAsPlan p = plan_dropped("/bin/pwd", {"pwd"});
    p.dir = at("private");
    EXPECT_EQ(run_ok(p).out, "/\n");
    tg::RunAsPlan as_root = plan_as_caller("/bin/pwd", {"pwd"});
    as_root.dir = at("private");
    EXPECT_EQ(run_ok(as_root).out, at("private") + "\n");
}

TEST_F(RunAs, Clause3_UnusableDirectoryGivesSlash)
{
    ASSERT_EQ(::chdir(root_.c_str()), 0);  // a relative "." would work from here
    for (const std::string& dir : {std::string(), std::string("."), at("missing")}) {
        SCOPED_TRACE(dir);
        tg::RunAsPlan p = plan_as_caller("/bin/pwd", {"pwd"});
        p.dir = dir;
        EXPECT_EQ(run_ok(p).out, "/\n");
    }
    ASSERT_EQ(::chdir("/"), 0);
}

// ---------------------------------------------------------------------------
// Clause 4: bounded

TEST_F(RunAs, Clause4_TimeoutKillsTheChildAndItsDescendants)
{
    tg::RunAsPlan p = plan_as_caller(
        "/bin/sh", {"sh", "-c", "sleep 30 & echo $$ $! > " + at("pids") + "; wait"});
    p.timeout_ms = 1000;
    const Clock::time_point start = Clock::now();
    auto r = tg::run_as(p);
    const auto took = Clock::now() - start;
    expect_refused(r, "run-timeout");
    EXPECT_LT(took, std::chrono::seconds(10));
    std::istringstream in(file_read(at("pids")));
    pid_t shell = 0, sleeper = 0;
    in >> shell >> sleeper;
    ASSERT_GT(shell, 0);
    ASSERT_GT(sleeper, 0);
    EXPECT_TRUE(process_gone(shell));
    EXPECT_TRUE(process_gone(sleeper));
}

TEST_F(RunAs, Clause4_RunawayOutputIsCutOff)
{
    tg::RunAsPlan p = plan_dropped("/bin/sh", {"sh", "-c", "yes | head -c 10485760"});
    p.max_output = 64 * 1024;
    p.timeout_ms = 20000;
    const Clock::time_point start = Clock::now();
    auto r = tg::run_as(p);
    expect_refused(r, "run-output-too-large");
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST_F(RunAs, Clause4_RunawayStderrIsCutOffAndTheWriterKilled)
{
    // The writer ignores SIGPIPE and write errors: only a kill stops it.
    tg::RunAsPlan p = plan_as_caller(
        "/bin/sh", {"sh", "-c",
                    "echo $$ > " + at("pid") +
                        "; trap '' PIPE; while :; do echo 0123456789abcdef; done >&2"});
    p.max_output = 64 * 1024;
    p.timeout_ms = 20000;
    expect_refused(tg::run_as(p), "run-output-too-large");
    const pid_t pid = std::atoi(file_read(at("pid")).c_str());
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(process_gone(pid));
    ::kill(pid, SIGKILL);  // when the test fails, the writer must not outlive it
}

TEST_F(RunAs, Clause4_OutputUpToTheCapIsKeptWhole)
{
    tg::RunAsPlan p = plan_dropped("/usr/bin/head", {"head", "-c", "4096", "/dev/zero"});
    p.max_output = 4096;
    const tg::RunAsResult r = run_ok(p);
    EXPECT_EQ(r.out, std::string(4096, '\0'));
    p.argv = {"head", "-c", "4097", "/dev/zero"};
    expect_refused(tg::run_as(p), "run-output-too-large");
}

TEST_F(RunAs, Clause4_DescendantHoldingThePipesDoesNotHoldTheCaller)
{
    tg::RunAsPlan p = plan_as_caller("/bin/sh", {"sh", "-c", "sleep 30 & echo $!; exit 3"});
    const Clock::time_point start = Clock::now();
    const tg::RunAsResult r = run_ok(p);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
    EXPECT_EQ(r.status, 3);
    const pid_t sleeper = std::atoi(r.out.c_str());
    ASSERT_GT(sleeper, 0) << r.out;
    ::kill(sleeper, SIGKILL);
}

// ---------------------------------------------------------------------------
// Clause 5: the caller unchanged

TEST_F(RunAs, Clause5_CallersIdsUmaskSignalsAndDescriptorsUnchanged)
{
    CallerState restore;
    ::umask(027);
    struct sigaction handler {};
    handler.sa_handler = sigchld_count;
    sigemptyset(&handler.sa_mask);
    ASSERT_EQ(::sigaction(SIGCHLD, &handler, nullptr), 0);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    ASSERT_EQ(::sigprocmask(SIG_BLOCK, &usr1, nullptr), 0);
    const std::vector<std::string> fds_before = fds_open();

    const tg::RunAsResult r = run_ok(plan_dropped("/usr/bin/id", {"id", "-u"}));
    EXPECT_EQ(r.out, "54321\n");

    const mode_t mask_after = ::umask(027);
    EXPECT_EQ(mask_after, 027u);
    struct sigaction now {};
    ASSERT_EQ(::sigaction(SIGCHLD, nullptr, &now), 0);
    EXPECT_EQ(now.sa_handler, &sigchld_count);
    sigset_t blocked;
    ASSERT_EQ(::sigprocmask(SIG_SETMASK, nullptr, &blocked), 0);
    EXPECT_EQ(sigismember(&blocked, SIGUSR1), 1);
    EXPECT_EQ(sigismember(&blocked, SIGCHLD), 0);
    uid_t ru = 1, eu = 1, su = 1;
    gid_t rg = 1, eg = 1, sg = 1;
    ASSERT_EQ(::getresuid(&ru, &eu, &su), 0);
    ASSERT_EQ(::getresgid(&rg, &eg, &sg), 0);
    EXPECT_EQ(std::vector<uid_t>({ru, eu, su}), std::vector<uid_t>({0, 0, 0}));
    EXPECT_EQ(std::vector<gid_t>({rg, eg, sg}), std::vector<gid_t>({0, 0, 0}));
    EXPECT_EQ(fds_open(), fds_before);
    EXPECT_EQ(g_sigchld_seen, 0);  // our handler never hears of run_as's child
}

// ---------------------------------------------------------------------------
// Clause 6: status and output as data

TEST_F(RunAs, Clause6_ExitStatusReturned)
{
    EXPECT_EQ(run_ok(plan_dropped("/bin/sh", {"sh", "-c", "exit 0"})).status, 0);
    EXPECT_EQ(run_ok(plan_dropped("/bin/sh", {"sh", "-c", "exit 7"})).status, 7);
    EXPECT_EQ(run_ok(plan_dropped("/bin/sh", {"sh", "-c", "exit 255"})).status, 255);
}

TEST_F(RunAs, Clause6_DeathBySignalIs128PlusTheSignal)
{
    EXPECT_EQ(run_ok(plan_dropped("/bin/sh", {"sh", "-c", "kill -TERM $$"})).status, 128 + SIGTERM);
    EXPECT_EQ(run_ok(plan_dropped("/bin/sh", {"sh", "-c", "kill -KILL $$"})).status, 128 + SIGKILL);
}

TEST_F(RunAs, Clause6_StdoutAndStderrReturnedSeparately)
{
    const tg::RunAsResult r =
        run_ok(plan_dropped("/bin/sh", {"sh", "-c", "printf 'out\\n'; printf 'err\\033[2J\\n' >&2"}));
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\033[2J\n");
}

}  // namespace

// A host (a daemon loading the PAM module) may run with fds 0-2 closed: the
// pipes must not land on them, or the program loses its stdout.
TEST_F(RunAs, Clause2_StdioWorksWhenTheCallersStdioIsClosed)
{
    int saved[3];
    for (int fd = 0; fd < 3; ++fd)
        saved[fd] = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    for (int fd = 0; fd < 3; ++fd)
        ::close(fd);
    auto r = tg::run_as(plan_dropped("/usr/bin/id", {"id", "-u"}));
    for (int fd = 0; fd < 3; ++fd) {
        ::dup2(saved[fd], fd);
        ::close(saved[fd]);
    }
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->out, "54321\n");
    EXPECT_EQ(r->status, 0);
}

// The contract asks for an absolute path; a relative one would be found
// relative to `dir` after the chdir.
TEST_F(RunAs, Clause3_RelativeProgramIsRefusedBeforeAnythingRuns)
{
    tg::RunAsPlan p = plan_dropped("id", {"id", "-u"});
    p.dir = "/usr/bin";
    auto r = tg::run_as(p);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason, "exec-setup");
}

// Clause 5: a host that ignores SIGCHLD (the kernel would auto-reap a
// forked child) or reaps with waitpid(-1) in its handler still gets the
// right status, and its handler never hears of our child.
TEST_F(RunAs, Clause5_HostSigchldDispositionNeitherStealsNorHearsTheChild)
{
    struct sigaction ign {}, old {};
    ign.sa_handler = SIG_IGN;
    ASSERT_EQ(::sigaction(SIGCHLD, &ign, &old), 0);
    auto r = tg::run_as(plan_dropped("/bin/sh", {"sh", "-c", "exit 7"}));
    struct sigaction reaper {};
    reaper.sa_handler = sigchld_count;
    ::sigaction(SIGCHLD, &reaper, nullptr);
    g_sigchld_seen = 0;
    auto r2 = tg::run_as(plan_dropped("/bin/sh", {"sh", "-c", "exit 9"}));
    const int seen = g_sigchld_seen;
    ::sigaction(SIGCHLD, &old, nullptr);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->status, 7);
    ASSERT_TRUE(r2.has_value()) << r2.error().message();
    EXPECT_EQ(r2->status, 9);
    EXPECT_EQ(seen, 0) << "the host's SIGCHLD handler ran for run_as's child";
}

// Clause 2: a host signal arriving while the child starts never runs the
// host's handler in the child (signals are blocked across clone3 and the
// child resets handlers before it unblocks them). The storm runs in a
// forked process with a process group of its own, so kill(0, ...) reaches
// only it and its run_as children, never ctest.
TEST_F(RunAs, Clause2_HostHandlersNeverRunInTheChild)
{
    const pid_t host = ::fork();
    ASSERT_GE(host, 0);
    if (host == 0) {
        ::setpgid(0, 0);
        static pid_t parent = 0;
        parent = ::getpid();
        struct sigaction h {};
        h.sa_handler = [](int) {
            if (::getpid() != parent)
                ::_exit(99);  // ran in the child: its status says so
        };
        ::sigaction(SIGUSR1, &h, nullptr);
        std::atomic<bool> stop{false};
        std::thread storm([&] {
            while (!stop)
                ::kill(0, SIGUSR1);  // this process group, run_as's children included
        });
        int bad = 0;
        for (int i = 0; i < 100; ++i) {
            // 99: the host's handler ran in the child. (A pending SIGUSR1
            // may still kill the child by its default action: 128+10.)
            auto r = tg::run_as(plan_dropped("/bin/true", {"true"}));
            if (!r || r->status == 99)
                ++bad;
        }
        stop = true;
        storm.join();
        ::_exit(bad == 0 ? 0 : 1);
    }
    int st = 0;
    ASSERT_EQ(::waitpid(host, &st, 0), host);
    ASSERT_TRUE(WIFEXITED(st)) << "the storm process died of signal " << WTERMSIG(st);
    EXPECT_EQ(WEXITSTATUS(st), 0) << "a host handler ran in a run_as child";
}

// Clause 5 in a multithreaded host (sshd with a helper thread, say): another
// thread holding a malloc lock at the moment of clone3 must not deadlock the
// child, which makes only raw system calls until execve.
TEST_F(RunAs, Clause5_BusyHostThreadsNeverStallTheChild)
{
    std::atomic<bool> stop{false};
    std::thread churn([&] {
        while (!stop) {
            std::vector<std::string> v;
            for (int i = 0; i < 64; ++i)
                v.emplace_back(std::string(static_cast<std::size_t>(100 + i * 37), 'x'));
        }
    });
    int stalled = 0;
    std::string first;
    for (int i = 0; i < 200; ++i) {
        tg::RunAsPlan p = plan_dropped("/bin/true", {"true"});
        p.timeout_ms = 2000;
        auto r = tg::run_as(p);
        if (!r || r->status != 0) {
            if (first.empty())
                first = r ? "status " + std::to_string(r->status) + " " + r->err : r.error().message();
            ++stalled;
        }
    }
    stop = true;
    churn.join();
    EXPECT_EQ(stalled, 0) << first;
}
