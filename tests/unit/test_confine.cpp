// confine_exec_once(): the tmux client may be exec'd once, then never exec
// again (the contract in confine.hpp, clause by clause). Each case runs in a
// forked child, since a seccomp filter cannot be removed.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "support.hpp"
#include "tmuxguard/confine.hpp"

namespace {

// Runs `body` in a child; returns its exit status, or 1000 + signal.
int child_status(const std::function<int()>& body)
{
    pid_t pid = ::fork();
    if (pid == 0)
        ::_exit(body());
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

int binary_open(const char* path)
{
    return ::open(path, O_RDONLY | O_CLOEXEC);
}

// The marker path must not exist before a case runs.
class Confine : public tgtest::RootTree {
protected:
    Confine() : RootTree("nothing needs root here but the shared temp tree") {}
    void SetUp() override
    {
        RootTree::SetUp();
        marker_ = at("marker");
    }
    [[nodiscard]] bool marker_exists() const { return ::access(marker_.c_str(), F_OK) == 0; }
    std::string marker_;
};

// Clause 2: once the filter is in, execve fails with EPERM.
TEST_F(Confine, Clause2_ExecveFailsWithEperm)
{
    int status = child_status([] {
        int fd = binary_open("/bin/true");
        if (fd < 0 || !tg::confine_exec_once(fd))
            return 10;
        char* argv[] = {const_cast<char*>("true"), nullptr};
        ::execve("/bin/true", argv, nullptr);
        return errno == EPERM ? 0 : 11;
    });
    EXPECT_EQ(status, 0);
}

// Clause 2: execveat on any other descriptor, or with other flags, fails.
TEST_F(Confine, Clause2_ExecveatOfAnotherDescriptorOrFlagsFails)
{
    int status = child_status([] {
        int fd = binary_open("/bin/true");
        int other = binary_open("/bin/false");
        if (fd < 0 || other < 0 || !tg::confine_exec_once(fd))
            return 10;
        char* argv[] = {const_cast<char*>("false"), nullptr};
        if (tg::confine_exec_fd(other, argv, nullptr) != -1 || errno != EPERM)
            return 11;
        if (::syscall(SYS_execveat, fd, "", argv, nullptr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) !=
                -1 || errno != EPERM)
            return 12;
        if (::syscall(SYS_execveat, AT_FDCWD, "/bin/false", argv, nullptr, 0) != -1 || errno != EPERM)
            return 13;
        return 0;
    });
    EXPECT_EQ(status, 0);
}

// Clause 2: the one exec of the checked descriptor works, and the program it
// starts cannot exec anything: `sh -c 'touch MARKER'` (what a server's
// `detach-client -E` asks of a client) runs nothing.
TEST_F(Confine, Clause2_OneExecThenNothingRuns)
{
    std::string cmd = "touch " + marker_;
    int status = child_status([&] {
        int fd = binary_open("/bin/sh");
        if (fd < 0 || !tg::confine_exec_once(fd))
            return 10;
        char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), cmd.data(), nullptr};
        char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
        tg::confine_exec_fd(fd, argv, envp);
        return 11;  // the exec of the checked descriptor itself failed
    });
    EXPECT_NE(status, 11) << "the one permitted exec was refused";
    EXPECT_NE(status, 0) << "sh reported that touch ran";
    EXPECT_FALSE(marker_exists()) << "a command ran after the one exec";
}

// The same command without the filter does create the marker: the test
// above can fail.
TEST_F(Confine, Control_WithoutTheFilterTheCommandRuns)
{
    std::string cmd = "touch " + marker_;
    int status = child_status([&] {
        int fd = binary_open("/bin/sh");
        char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), cmd.data(), nullptr};
        char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
        tg::confine_exec_fd(fd, argv, envp);
        return 11;
    });
    EXPECT_EQ(status, 0);
    EXPECT_TRUE(marker_exists());
}

// Clause 1: no new privileges, and the filter is reported by the kernel.
TEST_F(Confine, Clause1_NoNewPrivsAndSeccompFilterAreSet)
{
    int status = child_status([] {
        int fd = binary_open("/bin/true");
        if (fd < 0 || !tg::confine_exec_once(fd))
            return 10;
        std::ifstream in("/proc/self/status");
        std::string line;
        bool nnp = false, filter = false;
        while (std::getline(in, line)) {
            nnp = nnp || line == "NoNewPrivs:\t1";
            filter = filter || line == "Seccomp:\t2";
        }
        return nnp && filter ? 0 : 12;
    });
    EXPECT_EQ(status, 0);
}

// Clause 3: no descriptor to exec is a failure, with the stable reason.
TEST(ConfineArgs, Clause3_BadDescriptorIsConfineFailed)
{
    int status = child_status([] {
        auto r = tg::confine_exec_once(-1);
        return !r && r.error().reason == "confine-failed" ? 0 : 10;
    });
    EXPECT_EQ(status, 0);
}

}  // namespace
