// Confinement of the tmux client (confine.hpp has the contract).
#include "tmuxguard/confine.hpp"

#include <fcntl.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace tg {

namespace {

// Owns a libseccomp context for the length of one function.
class FilterCtx {
public:
    FilterCtx() : ctx_(::seccomp_init(SCMP_ACT_ALLOW)) {}
    FilterCtx(const FilterCtx&) = delete;
    FilterCtx& operator=(const FilterCtx&) = delete;
    ~FilterCtx()
    {
        if (ctx_ != nullptr)
            ::seccomp_release(ctx_);
    }
    [[nodiscard]] scmp_filter_ctx get() const { return ctx_; }

private:
    scmp_filter_ctx ctx_;
};

// libseccomp returns -errno; Result keeps the positive value.
Result<void> filter_step(int rc, const char* what)
{
    if (rc < 0)
        return fail("confine-failed", -rc, {}, what);
    return {};
}

// Clause 2: execve always EPERM; execveat EPERM unless (exec_fd, AT_EMPTY_PATH).
Result<void> filter_rules_add(scmp_filter_ctx ctx, int exec_fd)
{
    const auto fd = static_cast<scmp_datum_t>(static_cast<unsigned>(exec_fd));
    if (auto ok = filter_step(::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execve), 0),
                              "rule execve");
        !ok)
        return ok;
    if (auto ok = filter_step(::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execveat), 1,
                                                 SCMP_A0_32(SCMP_CMP_NE, fd)),
                              "rule execveat fd");
        !ok)
        return ok;
    return filter_step(::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execveat), 1,
                                          SCMP_A4_32(SCMP_CMP_NE, AT_EMPTY_PATH)),
                       "rule execveat flags");
}

}  // namespace

// Clauses 1-3, in order; the first failure ends it.
Result<void> confine_exec_once(int exec_fd)
{
    if (exec_fd < 0)
        return fail("confine-failed", EBADF, {}, "no descriptor to exec");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail("confine-failed", errno, {}, "PR_SET_NO_NEW_PRIVS");
    FilterCtx ctx;
    if (ctx.get() == nullptr)
        return fail("confine-failed", ENOMEM, {}, "seccomp_init");
    // seccomp_init's context holds the native architecture only, and its
    // default bad-architecture action kills: no other ABI gets through.
    if (auto ok = filter_rules_add(ctx.get(), exec_fd); !ok)
        return ok;
    return filter_step(::seccomp_load(ctx.get()), "seccomp_load");
}

// execveat(fd, "", argv, envp, AT_EMPTY_PATH).
int confine_exec_fd(int exec_fd, char* const argv[], char* const envp[])
{
    return static_cast<int>(::syscall(SYS_execveat, exec_fd, "", argv, envp, AT_EMPTY_PATH));
}

}  // namespace tg
