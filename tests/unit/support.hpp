// Fixtures and helpers shared by the unit test binaries (each test file is
// still its own binary; this header only saves writing them out again).
// Nothing here registers itself: a binary that wants local time to be UTC
// adds UtcEnvironment with ::testing::AddGlobalTestEnvironment.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "tmuxguard/compiled.hpp"
#include "tmuxguard/error.hpp"
#include "tmuxguard/policy.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgtest {

// A root-owned 0755 temp dir under /var/lib, so ownership checks pass on the
// way down to it (/tmp is world-writable), removed with everything in it in
// TearDown, also after a failure. Without root the test FAILS, never skips.
// Derived fixtures call RootTree::SetUp() and return on HasFatalFailure().
class RootTree : public ::testing::Test {
protected:
    // `why` completes the failure message "these tests need root (WHY)".
    explicit RootTree(std::string why) : why_(std::move(why)) {}

    void SetUp() override
    {
        ASSERT_EQ(::geteuid(), 0u) << "these tests need root (" << why_ << ")";
        char tmpl[] = "/var/lib/tmuxguard-unit.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
        root_ = tmpl;
        ASSERT_EQ(::chmod(root_.c_str(), 0755), 0) << root_ << ": " << std::strerror(errno);
    }
    void TearDown() override
    {
        if (root_.empty())
            return;
        std::error_code ignored;  // a leftover temp dir must not fail the test
        std::filesystem::remove_all(root_, ignored);  // removes symlinks, never follows them
    }
    // ROOT/REL.
    [[nodiscard]] std::string at(const std::string& rel) const { return root_ + "/" + rel; }

    std::string root_;

private:
    std::string why_;
};

// An O_PATH descriptor of the inode at `path` itself (a symlink is not followed).
inline tg::UniqueFd path_open(const std::string& path)
{
    return tg::UniqueFd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
}

// A descriptor number that was open a moment ago and is closed now.
inline int fd_number_closed()
{
    tg::UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int closed = fd.get();
    fd.reset();
    return closed;
}

// Asserts that `r` failed with `reason` (and `subject`, when given).
template <class T>
void expect_refused(const tg::Result<T>& r, const std::string& reason,
                    const std::string& subject = {})
{
    ASSERT_FALSE(r.has_value()) << "expected a refusal with " << reason;
    EXPECT_EQ(r.error().reason, reason) << r.error().message();
    if (!subject.empty()) {
        EXPECT_EQ(r.error().subject, subject) << r.error().message();
    }
}

// Sets TZ=UTC for the whole binary, so local-time results are predictable.
class UtcEnvironment : public ::testing::Environment {
public:
    void SetUp() override
    {
        ::setenv("TZ", "UTC", 1);
        ::tzset();
    }
};

// The file name every in-memory text policy is parsed as.
inline constexpr const char* kPolicyFile = "/etc/tg/policy.conf";
// The gate gid every compiled test policy records.
inline constexpr gid_t kCompileGate = 990;

// Parses `text` as kPolicyFile, runs the whole-policy checks and compiles it
// with `resolver` for kCompileGate; `out`, when given, gets the parsed policy
// with the errors compile added.
inline tg::CompiledPolicy policy_text_compile(const std::string& text, tg::Resolver& resolver,
                                              tg::Policy* out = nullptr)
{
    tg::Policy p = tg::policy_defaults();
    tg::policy_parse_text(text, kPolicyFile, p);
    tg::policy_check_whole(p);
    tg::CompiledPolicy c = tg::policy_compile(p, resolver, kCompileGate);
    if (out != nullptr)
        *out = p;
    return c;
}

}  // namespace tgtest
