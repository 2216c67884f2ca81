// Confinement of the tmux client (confine.hpp has the contract).
#include "tmuxguard/confine.hpp"

#include <fcntl.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "tmuxguard/pathwalk.hpp"

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

// One unconditional EPERM rule.
Result<void> deny_always(scmp_filter_ctx ctx, int syscall_nr, const char* what)
{
    return filter_step(::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), syscall_nr, 0), what);
}

// Clause 2a: execve always EPERM; execveat EPERM unless (exec_fd, AT_EMPTY_PATH).
Result<void> rules_exec(scmp_filter_ctx ctx, int exec_fd)
{
    const auto fd = static_cast<scmp_datum_t>(static_cast<unsigned>(exec_fd));
    if (auto ok = deny_always(ctx, SCMP_SYS(execve), "rule execve"); !ok)
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

// Clauses 2b, 2c and 2e.
Result<void> rules_process_and_net(scmp_filter_ctx ctx)
{
    // bind and listen: the client only ever connects, and binding a unix
    // socket to a path would create a file.
    for (int nr : {SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
                   SCMP_SYS(io_uring_setup), SCMP_SYS(bind), SCMP_SYS(listen)}) {
        if (auto ok = deny_always(ctx, nr, "rule process"); !ok)
            return ok;
    }
    for (int nr : {SCMP_SYS(socket), SCMP_SYS(socketpair)}) {
        if (auto ok = filter_step(::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
                                                     SCMP_A0_32(SCMP_CMP_NE, AF_UNIX)),
                                  "rule socket domain");
            !ok)
            return ok;
    }
    return {};
}

// Clause 2d, opens: EPERM when the flags argument (index `arg`) has any of
// the bits that write, create or truncate. One rule per bit: libseccomp
// compares (flags & mask) == datum.
Result<void> rules_open_flags(scmp_filter_ctx ctx, int nr, unsigned arg)
{
    for (scmp_datum_t bit : {scmp_datum_t{O_WRONLY}, scmp_datum_t{O_RDWR}, scmp_datum_t{O_CREAT},
                             scmp_datum_t{O_TRUNC}}) {
        const scmp_arg_cmp cmp{arg, SCMP_CMP_MASKED_EQ, bit, bit};
        if (auto ok = filter_step(
                ::seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, &cmp), "rule open flags");
            !ok)
            return ok;
    }
    return {};
}

#if defined(__x86_64__) || defined(__aarch64__)
// The same numbers on both (the unified syscall table since 5.x).
constexpr int kSysFchmodat2 = 452;
constexpr int kSysSetxattrat = 463;
constexpr int kSysRemovexattrat = 466;
#else
#error "the numbers of fchmodat2, setxattrat and removexattrat for this architecture"
#endif

// Clause 2d, everything else that changes the filesystem.
Result<void> rules_files(scmp_filter_ctx ctx)
{
    if (auto ok = rules_open_flags(ctx, SCMP_SYS(open), 1); !ok)
        return ok;
    if (auto ok = rules_open_flags(ctx, SCMP_SYS(openat), 2); !ok)
        return ok;
    for (int nr : {SCMP_SYS(creat), SCMP_SYS(openat2), SCMP_SYS(truncate), SCMP_SYS(ftruncate),
                   SCMP_SYS(fallocate), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(mknod),
                   SCMP_SYS(mknodat), SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rmdir),
                   SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(link),
                   SCMP_SYS(linkat), SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(chmod),
                   SCMP_SYS(fchmod), SCMP_SYS(fchmodat), SCMP_SYS(chown), SCMP_SYS(fchown),
                   SCMP_SYS(lchown), SCMP_SYS(fchownat), SCMP_SYS(setxattr),
                   SCMP_SYS(lsetxattr), SCMP_SYS(fsetxattr), SCMP_SYS(removexattr),
                   SCMP_SYS(lremovexattr), SCMP_SYS(fremovexattr), SCMP_SYS(utime),
                   SCMP_SYS(utimes), SCMP_SYS(utimensat), SCMP_SYS(futimesat)}) {
        if (auto ok = deny_always(ctx, nr, "rule files"); !ok)
            return ok;
    }
    // fchmodat2 (Linux 6.6), setxattrat and removexattrat (6.13) are newer
    // than this libseccomp's syscall table: by number.
    for (int nr : {kSysFchmodat2, kSysSetxattrat, kSysRemovexattrat}) {
        if (auto ok = filter_step(::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0),
                                  "rule new file syscalls");
            !ok)
            return ok;
    }
    return {};
}

// Landlock's ABI, spelled out here: the system header (linux-libc-dev 6.1)
// predates the network and truncate rights.
struct LandlockAttr {
    std::uint64_t handled_access_fs = 0;
    std::uint64_t handled_access_net = 0;
};
constexpr unsigned kLandlockVersion = 1U << 0U;
constexpr std::uint64_t kFsWriteFile = 1ULL << 1U;
constexpr std::uint64_t kFsRemoveDir = 1ULL << 4U;
constexpr std::uint64_t kFsMakeAll = 0x7fULL << 6U;  // MAKE_CHAR .. MAKE_SYM
constexpr std::uint64_t kFsRemoveFile = 1ULL << 5U;
constexpr std::uint64_t kFsRefer = 1ULL << 13U;     // ABI 2
constexpr std::uint64_t kFsTruncate = 1ULL << 14U;  // ABI 3
constexpr std::uint64_t kNetTcp = 3;                // BIND_TCP | CONNECT_TCP, ABI 4
constexpr std::uint64_t kFsExecute = 1ULL << 0U;
constexpr std::uint64_t kFsReadFile = 1ULL << 2U;
constexpr std::uint64_t kFsReadDir = 1ULL << 3U;
constexpr std::uint64_t kFsRead = kFsExecute | kFsReadFile | kFsReadDir;
constexpr std::uint64_t kFsFileRights = kFsExecute | kFsReadFile | kFsWriteFile | kFsTruncate;
constexpr int kLandlockRulePathBeneath = 1;

// Clause 3: deny every writing filesystem right and TCP, grant nothing.
// A path_beneath rule granting `access` on `path` (skipped when the path
// does not exist on this system).
Result<void> landlock_allow(int ruleset, const char* path, std::uint64_t access)
{
    const int fd = ::open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? Result<void>{} : fail("confine-failed", errno, path, "open for Landlock");
    struct {
        std::uint64_t allowed_access;
        std::int32_t parent_fd;
    } __attribute__((packed)) rule {access, fd};
    struct stat st {};
    if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        rule.allowed_access &= kFsFileRights;  // a file takes no directory rights
    const long rc = ::syscall(SYS_landlock_add_rule, ruleset, kLandlockRulePathBeneath, &rule, 0U);
    const int err = errno;
    ::close(fd);
    if (rc != 0)
        return fail("confine-failed", err, path, "landlock_add_rule");
    return {};
}

// Clause 3: deny every writing filesystem right and TCP, grant nothing of
// those; reading and executing only beneath the system's own trees and
// the checked tmux binary, so a server cannot have the client read the
// guest's files (tmux's MSG_READ_OPEN opens any path the server names).
Result<ConfineReport> landlock_apply(int exec_fd)
{
    ConfineReport rep;
    long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kLandlockVersion);
    if (abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP)) {
        rep.note = std::string("landlock not available: ") + std::strerror(errno);
        return rep;
    }
    if (abi < 1)
        return fail("confine-failed", errno, {}, "landlock ABI version");
    LandlockAttr attr;
    attr.handled_access_fs = kFsWriteFile | kFsRemoveDir | kFsRemoveFile | kFsMakeAll | kFsRead;
    if (abi >= 2)
        attr.handled_access_fs |= kFsRefer;
    if (abi >= 3)
        attr.handled_access_fs |= kFsTruncate;
    std::size_t size = sizeof attr.handled_access_fs;
    if (abi >= 4) {
        attr.handled_access_net = kNetTcp;
        size = sizeof attr;
    }
    const int fd = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, size, 0U));
    if (fd < 0)
        return fail("confine-failed", errno, {}, "landlock_create_ruleset");
    // /proc/self is the confining process's own entry (the wrapper, later
    // the relay): its status is world-readable anyway, and its environ and
    // memory need ptrace rights the non-dumpable wrapper never grants.
    for (const char* tree : {"/usr", "/lib", "/lib64", "/etc", "/dev/null", "/proc/self"}) {
        if (auto ok = landlock_allow(fd, tree, kFsRead); !ok) {
            ::close(fd);
            return std::unexpected(ok.error());
        }
    }
    if (auto ok = landlock_allow(fd, fd_proc_path(exec_fd).c_str(), kFsRead); !ok) {
        ::close(fd);
        return std::unexpected(ok.error());
    }
    const long rc = ::syscall(SYS_landlock_restrict_self, fd, 0U);
    const int err = errno;
    ::close(fd);
    if (rc != 0)
        return fail("confine-failed", err, {}, "landlock_restrict_self");
    rep.landlock_abi = static_cast<int>(abi);
    return rep;
}

}  // namespace

// Clauses 1-4, in order; the first failure ends it.
Result<ConfineReport> confine_exec_once(int exec_fd)
{
    if (exec_fd < 0)
        return fail("confine-failed", EBADF, {}, "no descriptor to exec");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail("confine-failed", errno, {}, "PR_SET_NO_NEW_PRIVS");
#ifdef TMUXGUARD_TEST_CONFINE_FAIL
    // Only in tmuxguard-attach-confine-fail, a test build that is never
    // installed: proves that a filter that does not load means no attach
    // and a logged reason.
    return fail("confine-failed", EINVAL, {}, "seccomp_load (test switch)");
#endif
    FilterCtx ctx;
    if (ctx.get() == nullptr)
        return fail("confine-failed", ENOMEM, {}, "seccomp_init");
    // seccomp_init's context holds the native architecture only, and its
    // default bad-architecture action kills: no other ABI gets through.
    if (auto ok = rules_exec(ctx.get(), exec_fd); !ok)
        return std::unexpected(ok.error());
    if (auto ok = rules_process_and_net(ctx.get()); !ok)
        return std::unexpected(ok.error());
    if (auto ok = rules_files(ctx.get()); !ok)
        return std::unexpected(ok.error());
    Result<ConfineReport> rep = landlock_apply(exec_fd);
    if (!rep)
        return rep;
    if (auto ok = filter_step(::seccomp_load(ctx.get()), "seccomp_load"); !ok)
        return std::unexpected(ok.error());
    return rep;
}

// execveat(fd, "", argv, envp, AT_EMPTY_PATH).
int confine_exec_fd(int exec_fd, char* const argv[], char* const envp[])
{
    return static_cast<int>(::syscall(SYS_execveat, exec_fd, "", argv, envp, AT_EMPTY_PATH));
}

}  // namespace tg
