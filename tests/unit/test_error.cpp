#include <gtest/gtest.h>

#include <cerrno>

#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

#include <fcntl.h>

namespace {

TEST(Error, MessageJoinsNonEmptyParts)
{
    tg::Error e{"path-symlink", ELOOP, "/run/x", "refusing"};
    EXPECT_EQ(e.message(), "path-symlink: /run/x: refusing: " + std::string(strerror(ELOOP)));
    tg::Error bare{"no-rule", 0, "", ""};
    EXPECT_EQ(bare.message(), "no-rule");
}

TEST(UniqueFd, ClosesOnResetAndKeepsErrno)
{
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(raw, 0);
    {
        tg::UniqueFd fd(raw);
        EXPECT_TRUE(fd.valid());
        errno = EPERM;
        fd.reset();
        EXPECT_EQ(errno, EPERM);
        EXPECT_FALSE(fd.valid());
    }
    EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
}

TEST(UniqueFd, ReleaseGivesUpOwnership)
{
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(raw, 0);
    {
        tg::UniqueFd fd(raw);
        EXPECT_EQ(fd.release(), raw);
    }
    EXPECT_NE(::fcntl(raw, F_GETFD), -1);
    ::close(raw);
}

}  // namespace
