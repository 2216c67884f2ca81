// confine_exec_once(): the tmux client may be exec'd once, then never exec
// again, trace, reach the network or change a file (the contract in
// confine.hpp, clause by clause). Each case runs in a forked child, since a
// seccomp filter cannot be removed, and each has a control: the same call
// without the filter works, so the test can fail.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

// What /proc/self/status says: NoNewPrivs 1 and Seccomp 2 (a filter).
struct OwnStatus {
    bool nnp = false;
    bool filter = false;
};
OwnStatus own_status()
{
    OwnStatus st;
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
        st.nnp = st.nnp || line == "NoNewPrivs:\t1";
        st.filter = st.filter || line == "Seccomp:\t2";
    }
    return st;
}
bool own_status_confined()
{
    const OwnStatus st = own_status();
    return st.nnp && st.filter;
}
bool own_status_shows_either()
{
    const OwnStatus st = own_status();
    return st.nnp || st.filter;
}

// Exit status of a child that runs `body` after the filter went on (or,
// for the control case, without it): 99 means the filter could not be
// installed.
enum class Filter { on, off };
int status_under(Filter filter, const std::function<int()>& body)
{
    return child_status([&] {
        int fd = binary_open("/bin/true");
        if (fd < 0 || (filter == Filter::on && !tg::confine_exec_once(fd)))
            return 99;
        return body();
    });
}

// errno after a syscall-style call: 0 when it succeeded.
int errno_of(long rc)
{
    return rc < 0 ? errno : 0;
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

// Clause 2a: once the filter is in, execve fails with EPERM.
TEST_F(Confine, Clause2a_ExecveFailsWithEperm)
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

// Clause 2a: execveat on any other descriptor, or with other flags, fails.
TEST_F(Confine, Clause2a_ExecveatOfAnotherDescriptorOrFlagsFails)
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

// Clause 2a: the one exec of the checked descriptor works, and the program it
// starts cannot exec anything: `sh -c 'touch MARKER'` (what a server's
// `detach-client -E` asks of a client) runs nothing.
TEST_F(Confine, Clause2a_OneExecThenNothingRuns)
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
        return own_status_confined() ? 0 : 12;
    });
    EXPECT_EQ(status, 0);
}

// The client runs as the guest, not as root: without CAP_SYS_ADMIN neither
// Landlock nor seccomp goes on unless no-new-privileges came first.
TEST(ConfineStatus, Clause1_AnUnprivilegedCallerIsConfined)
{
    ASSERT_EQ(::geteuid(), 0u) << "this test needs root (it drops to another uid)";
    int status = child_status([] {
        int fd = binary_open("/bin/true");
        if (fd < 0 || ::setgroups(0, nullptr) != 0 || ::setresgid(54412, 54412, 54412) != 0 ||
            ::setresuid(54413, 54413, 54413) != 0)
            return 98;
        auto rep = tg::confine_exec_once(fd);
        if (!rep)
            return 10;
        if (rep->landlock_abi <= 0)
            return 11;
        return own_status_confined() ? 0 : 12;
    });
    EXPECT_EQ(status, 0) << "10 confine failed, 11 no Landlock, 12 status lines";
}

// Clause 4: no descriptor to exec is a failure, with the stable reason.
TEST(ConfineArgs, Clause4_BadDescriptorIsConfineFailed)
{
    int status = child_status([] {
        auto r = tg::confine_exec_once(-1);
        return !r && r.error().reason == "confine-failed" ? 0 : 10;
    });
    EXPECT_EQ(status, 0);
}

// The filter is on for the native architecture only: the process itself
// shows it, and a child without it does not (the test can fail).
TEST(ConfineStatus, Control_WithoutConfineNoNewPrivsAndSeccompAreOff)
{
    int status = status_under(Filter::off, [] {
        return !own_status_shows_either() ? 0 : 12;
    });
    EXPECT_EQ(status, 0);
}

// ---- clause 2: another ABI is killed ----

// getpid through the i386 entry point (int 0x80, syscall 20).
long i386_getpid()
{
    long rc = 20;
    asm volatile("int $0x80" : "+a"(rc) : : "memory");
    return rc;
}

// getpid with the x32 bit set.
long x32_getpid()
{
    return ::syscall(0x40000000L | SYS_getpid);
}

TEST(ConfineArch, Clause2_I386SyscallIsKilledWithSigsys)
{
    EXPECT_EQ(status_under(Filter::on, [] { return i386_getpid() > 0 ? 10 : 11; }), 1000 + SIGSYS);
    EXPECT_EQ(status_under(Filter::off, [] { return i386_getpid() > 0 ? 0 : 11; }), 0)
        << "control: without the filter the i386 call works";
}

TEST(ConfineArch, Clause2_X32SyscallIsKilledWithSigsys)
{
    EXPECT_EQ(status_under(Filter::on, [] { return x32_getpid() == -1 ? 10 : 11; }), 1000 + SIGSYS);
    // This kernel has no x32 ABI: without the filter the call just fails.
    EXPECT_EQ(status_under(Filter::off, [] { return x32_getpid() == -1 && errno == ENOSYS ? 0 : 11; }),
              0);
}

// ---- clause 2b: no tracing, no reading or writing another's memory ----

TEST(ConfineProcess, Clause2b_PtraceTracemeFailsWithEperm)
{
    auto traceme = [] { return errno_of(::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr)); };
    EXPECT_EQ(status_under(Filter::on, traceme), EPERM);
    EXPECT_EQ(status_under(Filter::off, traceme), 0) << "control";
}

// Attaching to a child of its own (the one thing Yama would still allow).
int attach_to_a_child()
{
    pid_t kid = ::fork();
    if (kid == 0) {
        ::pause();
        ::_exit(0);
    }
    int err = errno_of(::ptrace(PTRACE_ATTACH, kid, nullptr, nullptr));
    ::kill(kid, SIGKILL);
    ::waitpid(kid, nullptr, 0);
    return err;
}

TEST(ConfineProcess, Clause2b_PtraceAttachToAChildFailsWithEperm)
{
    EXPECT_EQ(status_under(Filter::on, attach_to_a_child), EPERM);
    EXPECT_EQ(status_under(Filter::off, attach_to_a_child), 0) << "control";
}

// process_vm_readv/writev on its own memory, which is always permitted.
int vm_read_own()
{
    char src[8] = "secret", dst[8] = {};
    struct iovec local {dst, sizeof dst};
    struct iovec remote {src, sizeof src};
    return errno_of(::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0));
}
int vm_write_own()
{
    char src[8] = "secret", dst[8] = {};
    struct iovec local {src, sizeof src};
    struct iovec remote {dst, sizeof dst};
    return errno_of(::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0));
}

TEST(ConfineProcess, Clause2b_ProcessVmReadvFailsWithEperm)
{
    EXPECT_EQ(status_under(Filter::on, vm_read_own), EPERM);
    EXPECT_EQ(status_under(Filter::off, vm_read_own), 0) << "control";
}

TEST(ConfineProcess, Clause2b_ProcessVmWritevFailsWithEperm)
{
    EXPECT_EQ(status_under(Filter::on, vm_write_own), EPERM);
    EXPECT_EQ(status_under(Filter::off, vm_write_own), 0) << "control";
}

// ---- clause 2c: AF_UNIX only ----

class ConfineSocket : public ::testing::TestWithParam<int> {};

TEST_P(ConfineSocket, Clause2c_NonUnixSocketFailsWithEperm)
{
    const int domain = GetParam();
    const int type = domain == AF_PACKET ? SOCK_RAW : domain == AF_NETLINK ? SOCK_RAW : SOCK_STREAM;
    auto open_one = [&] { return errno_of(::socket(domain, type | SOCK_CLOEXEC, 0)); };
    EXPECT_EQ(status_under(Filter::on, open_one), EPERM);
    EXPECT_EQ(status_under(Filter::off, open_one), 0) << "control";
}

INSTANTIATE_TEST_SUITE_P(Confine, ConfineSocket,
                         ::testing::Values(AF_INET, AF_INET6, AF_NETLINK, AF_PACKET),
                         [](const ::testing::TestParamInfo<int>& p) {
                             switch (p.param) {
                             case AF_INET:
                                 return std::string("inet");
                             case AF_INET6:
                                 return std::string("inet6");
                             case AF_NETLINK:
                                 return std::string("netlink");
                             default:
                                 return std::string("packet");
                             }
                         });

TEST(ConfineSocketPair, Clause2c_NonUnixSocketpairFailsWithEperm)
{
    auto pair_inet = [] {
        int sv[2];
        return errno_of(::socketpair(AF_INET, SOCK_STREAM, 0, sv));
    };
    EXPECT_EQ(status_under(Filter::on, pair_inet), EPERM);
    // Without the filter the kernel's own answer, not the filter's.
    EXPECT_EQ(status_under(Filter::off, pair_inet), EOPNOTSUPP) << "control";
}

TEST(ConfineSocketPair, Clause2c_UnixSocketAndSocketpairStillWork)
{
    int status = status_under(Filter::on, [] {
        int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
            return 10;
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            return 11;
        char c = 0;
        if (::write(sv[0], "u", 1) != 1 || ::read(sv[1], &c, 1) != 1 || c != 'u')
            return 12;
        return 0;
    });
    EXPECT_EQ(status, 0);
}

// ---- clause 2e: no io_uring ----

int io_uring_open()
{
    struct io_uring_params params {};
    return errno_of(::syscall(SYS_io_uring_setup, 4, &params));
}

TEST(ConfineIoUring, Clause2e_IoUringSetupFailsWithEperm)
{
    EXPECT_EQ(status_under(Filter::on, io_uring_open), EPERM);
    EXPECT_EQ(status_under(Filter::off, io_uring_open), 0) << "control";
}

// ---- clause 2d: nothing in the filesystem changes ----

// A tree both the control and the confined child work on, and the
// descriptors a process had before the filter went on.
struct FileTree {
    std::string dir;
    int dirfd = -1;       // O_PATH of dir
    int rw_ftrunc = -1;   // O_RDWR of ftrunc_me
    int rw_falloc = -1;   // O_RDWR of falloc_me
    int ro_fchmod = -1;   // O_RDONLY of mode_fchmod
    int ro_fchown = -1;   // O_RDONLY of own_fchown
    [[nodiscard]] std::string at(const char* name) const { return dir + "/" + name; }
};

const char* const kTreeFiles[] = {
    "existing",        "trunc_open",      "trunc_openat",     "truncate_me",    "ftrunc_me",
    "falloc_me",       "victim_unlink",   "victim_unlinkat",  "victim_rename",  "victim_renameat",
    "victim_renameat2", "mode_chmod",     "mode_fchmod",      "mode_fchmodat",  "mode_fchmodat2",
    "mode_acl",        "mode_acl_at",     "own_chown",        "own_fchown",     "own_lchown",
    "own_fchownat",    "time_utime",      "time_utimes",      "time_utimensat", "time_futimesat"};
const char* const kTreeDirs[] = {"victim_dir", "victim_dirat"};

bool tree_make(const std::string& dir)
{
    if (::mkdir(dir.c_str(), 0700) != 0)
        return false;
    for (const char* f : kTreeFiles) {
        std::ofstream(dir + "/" + f) << "original";
        if (::chmod((dir + "/" + f).c_str(), 0600) != 0)
            return false;
    }
    for (const char* d : kTreeDirs) {
        if (::mkdir((dir + "/" + d).c_str(), 0700) != 0)
            return false;
    }
    return true;
}

// Name, type, mode, owner, size, content, link target and xattr names of
// everything under `dir`, one line each, in a stable order.
std::string tree_snapshot(const std::string& dir)
{
    std::map<std::string, std::string> lines;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        const std::string path = e.path().string();
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0)
            continue;
        std::ostringstream line;
        line << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid << " "
             << st.st_size << " mtime " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
        if (S_ISREG(st.st_mode)) {
            std::ifstream in(path);
            line << " [" << std::string((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>())
                 << "]";
        }
        char names[1024] = {};
        ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
        for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1)
            line << " xattr:" << (names + i);
        lines[path.substr(dir.size())] = line.str();
    }
    std::string out;
    for (const auto& [name, line] : lines)
        out += name + " " + line + "\n";
    return out;
}

// A POSIX access ACL that makes a file rw-rw-rw- (what chmod 666 does).
std::vector<std::uint8_t> acl_rw_for_all()
{
    std::vector<std::uint8_t> blob;
    auto put32 = [&](std::uint32_t v) {
        for (int i = 0; i < 4; ++i)
            blob.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    auto put16 = [&](std::uint16_t v) {
        blob.push_back(static_cast<std::uint8_t>(v));
        blob.push_back(static_cast<std::uint8_t>(v >> 8));
    };
    put32(2);  // POSIX_ACL_XATTR_VERSION
    for (std::uint16_t tag : {std::uint16_t{0x01}, std::uint16_t{0x04}, std::uint16_t{0x20}}) {
        put16(tag);  // ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_OTHER
        put16(6);    // rw-
        put32(0xffffffffU);
    }
    return blob;
}

struct FileOp {
    const char* name;
    long (*run)(const FileTree& t);
    bool visible = true;  // false: succeeds without the filter but leaves no trace in the tree
};

// An open that succeeds also writes, so that opening for writing shows in the tree.
long written_through(long fd)
{
    if (fd >= 0)
        (void)!::write(static_cast<int>(fd), "X", 1);
    return fd;
}
long open_flags(const FileTree& t, const char* f, int flags)
{
    return written_through(::syscall(SYS_open, t.at(f).c_str(), flags | O_CLOEXEC, 0600));
}
long openat_flags(const FileTree& t, const char* f, int flags)
{
    return written_through(::syscall(SYS_openat, t.dirfd, f, flags | O_CLOEXEC, 0600));
}

constexpr uid_t kOtherOwner = 4321;
constexpr time_t kLongAgo = 1000000000;  // 2001: no file here has that time

const FileOp kFileOps[] = {
    {"open_wronly", [](const FileTree& t) { return open_flags(t, "existing", O_WRONLY); }},
    {"open_rdwr", [](const FileTree& t) { return open_flags(t, "existing", O_RDWR); }},
    {"open_creat", [](const FileTree& t) { return open_flags(t, "new_open", O_RDONLY | O_CREAT); }},
    {"open_trunc", [](const FileTree& t) { return open_flags(t, "trunc_open", O_RDONLY | O_TRUNC); }},
    {"openat_wronly", [](const FileTree& t) { return openat_flags(t, "existing", O_WRONLY); }},
    {"openat_rdwr", [](const FileTree& t) { return openat_flags(t, "existing", O_RDWR); }},
    {"openat_creat",
     [](const FileTree& t) { return openat_flags(t, "new_openat", O_RDONLY | O_CREAT); }},
    {"openat_trunc",
     [](const FileTree& t) { return openat_flags(t, "trunc_openat", O_RDONLY | O_TRUNC); }},
    {"openat_append",
     [](const FileTree& t) { return openat_flags(t, "existing", O_WRONLY | O_APPEND); }},
    {"openat_tmpfile", [](const FileTree& t) { return openat_flags(t, ".", O_TMPFILE | O_RDWR); },
     false},
    {"creat", [](const FileTree& t) { return ::syscall(SYS_creat, t.at("new_creat").c_str(), 0600); }},
    {"openat2_even_read_only",
     [](const FileTree& t) {
         struct open_how how {};
         how.flags = O_RDONLY | O_CLOEXEC;
         return ::syscall(SYS_openat2, t.dirfd, "existing", &how, sizeof how);
     },
     false},
    {"truncate", [](const FileTree& t) { return long{::truncate(t.at("truncate_me").c_str(), 0)}; }},
    {"ftruncate", [](const FileTree& t) { return long{::ftruncate(t.rw_ftrunc, 0)}; }},
    {"fallocate", [](const FileTree& t) { return long{::fallocate(t.rw_falloc, 0, 0, 65536)}; }},
    {"mkdir", [](const FileTree& t) { return long{::mkdir(t.at("new_dir").c_str(), 0700)}; }},
    {"mkdirat", [](const FileTree& t) { return long{::mkdirat(t.dirfd, "new_dirat", 0700)}; }},
    {"mknod",
     [](const FileTree& t) { return long{::mknod(t.at("new_fifo").c_str(), S_IFIFO | 0600, 0)}; }},
    {"mknodat",
     [](const FileTree& t) { return long{::mknodat(t.dirfd, "new_fifoat", S_IFIFO | 0600, 0)}; }},
    {"unlink", [](const FileTree& t) { return long{::unlink(t.at("victim_unlink").c_str())}; }},
    {"unlinkat", [](const FileTree& t) { return long{::unlinkat(t.dirfd, "victim_unlinkat", 0)}; }},
    {"rmdir", [](const FileTree& t) { return long{::rmdir(t.at("victim_dir").c_str())}; }},
    {"unlinkat_removedir",
     [](const FileTree& t) { return long{::unlinkat(t.dirfd, "victim_dirat", AT_REMOVEDIR)}; }},
    {"rename",
     [](const FileTree& t) {
         return long{::rename(t.at("victim_rename").c_str(), t.at("renamed").c_str())};
     }},
    {"renameat",
     [](const FileTree& t) {
         return long{::renameat(t.dirfd, "victim_renameat", t.dirfd, "renamedat")};
     }},
    {"renameat2",
     [](const FileTree& t) {
         return ::syscall(SYS_renameat2, t.dirfd, "victim_renameat2", t.dirfd, "renamed2",
                          RENAME_NOREPLACE);
     }},
    {"link",
     [](const FileTree& t) { return long{::link(t.at("existing").c_str(), t.at("new_link").c_str())}; }},
    {"linkat",
     [](const FileTree& t) { return long{::linkat(t.dirfd, "existing", t.dirfd, "new_linkat", 0)}; }},
    {"symlink",
     [](const FileTree& t) { return long{::symlink("existing", t.at("new_sym").c_str())}; }},
    {"symlinkat", [](const FileTree& t) { return long{::symlinkat("existing", t.dirfd, "new_symat")}; }},
    {"chmod", [](const FileTree& t) { return long{::chmod(t.at("mode_chmod").c_str(), 0644)}; }},
    {"fchmod", [](const FileTree& t) { return long{::fchmod(t.ro_fchmod, 0644)}; }},
    {"fchmodat",
     [](const FileTree& t) { return ::syscall(SYS_fchmodat, t.dirfd, "mode_fchmodat", 0644); }},
    // fchmodat2 (Linux 6.6, syscall 452 on x86_64): chmod by another name.
    {"fchmodat2",
     [](const FileTree& t) { return ::syscall(452, t.dirfd, "mode_fchmodat2", 0644, 0); }},
    // A POSIX ACL is the mode: writing system.posix_acl_access is a chmod.
    {"setxattr_posix_acl",
     [](const FileTree& t) {
         const std::vector<std::uint8_t> acl = acl_rw_for_all();
         return long{::setxattr(t.at("mode_acl").c_str(), "system.posix_acl_access", acl.data(),
                                acl.size(), 0)};
     }},
    // setxattrat (Linux 6.13, syscall 463): the same by directory descriptor.
    {"setxattrat_posix_acl",
     [](const FileTree& t) {
         const std::vector<std::uint8_t> acl = acl_rw_for_all();
         struct {
             std::uint64_t value;
             std::uint32_t size;
             std::uint32_t flags;
         } args{reinterpret_cast<std::uintptr_t>(acl.data()), static_cast<std::uint32_t>(acl.size()),
                0};
         return ::syscall(463, t.dirfd, "mode_acl_at", 0, "system.posix_acl_access", &args,
                          sizeof args);
     }},
    {"utime",
     [](const FileTree& t) {
         struct utimbuf times {kLongAgo, kLongAgo};
         return ::syscall(SYS_utime, t.at("time_utime").c_str(), &times);
     }},
    {"utimes",
     [](const FileTree& t) {
         struct timeval times[2] = {{kLongAgo, 0}, {kLongAgo, 0}};
         return long{::utimes(t.at("time_utimes").c_str(), times)};
     }},
    {"utimensat",
     [](const FileTree& t) {
         struct timespec times[2] = {{kLongAgo, 0}, {kLongAgo, 0}};
         return long{::utimensat(t.dirfd, "time_utimensat", times, 0)};
     }},
    {"futimesat",
     [](const FileTree& t) {
         struct timeval times[2] = {{kLongAgo, 0}, {kLongAgo, 0}};
         return ::syscall(SYS_futimesat, t.dirfd, "time_futimesat", times);
     }},
    {"chown",
     [](const FileTree& t) {
         return long{::chown(t.at("own_chown").c_str(), kOtherOwner, kOtherOwner)};
     }},
    {"fchown", [](const FileTree& t) { return long{::fchown(t.ro_fchown, kOtherOwner, kOtherOwner)}; }},
    {"lchown",
     [](const FileTree& t) {
         return long{::lchown(t.at("own_lchown").c_str(), kOtherOwner, kOtherOwner)};
     }},
    {"fchownat",
     [](const FileTree& t) {
         return long{::fchownat(t.dirfd, "own_fchownat", kOtherOwner, kOtherOwner, 0)};
     }},
};

class ConfineFileOp : public tgtest::RootTree, public ::testing::WithParamInterface<FileOp> {
protected:
    ConfineFileOp() : RootTree("the tree is root's, and chown needs root") {}

    // Runs the parameter's operation in a child on the tree at `dir`; its errno.
    int op_errno(Filter filter, const std::string& dir)
    {
        const FileOp op = GetParam();
        return child_status([&] {
            FileTree t;
            t.dir = dir;
            t.dirfd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
            t.rw_ftrunc = ::open(t.at("ftrunc_me").c_str(), O_RDWR | O_CLOEXEC);
            t.rw_falloc = ::open(t.at("falloc_me").c_str(), O_RDWR | O_CLOEXEC);
            t.ro_fchmod = ::open(t.at("mode_fchmod").c_str(), O_RDONLY | O_CLOEXEC);
            t.ro_fchown = ::open(t.at("own_fchown").c_str(), O_RDONLY | O_CLOEXEC);
            int fd = binary_open("/bin/true");
            if (fd < 0 || t.dirfd < 0 || t.rw_ftrunc < 0 || t.rw_falloc < 0 || t.ro_fchmod < 0 ||
                t.ro_fchown < 0)
                return 98;
            if (filter == Filter::on && !tg::confine_exec_once(fd))
                return 99;
            return errno_of(op.run(t));
        });
    }
};

// Without the filter the operation changes the tree; with it, EPERM and the
// tree is exactly as before.
TEST_P(ConfineFileOp, Clause2d_FailsWithEpermAndChangesNothing)
{
    const std::string control = at("control");
    const std::string confined = at("confined");
    ASSERT_TRUE(tree_make(control) && tree_make(confined)) << std::strerror(errno);
    const std::string before = tree_snapshot(control);
    ASSERT_EQ(op_errno(Filter::off, control), 0) << "control: the operation does not work at all";
    if (GetParam().visible) {
        ASSERT_NE(tree_snapshot(control), before) << "control: the operation changed nothing";
    }

    const std::string untouched = tree_snapshot(confined);
    EXPECT_EQ(op_errno(Filter::on, confined), EPERM);
    EXPECT_EQ(tree_snapshot(confined), untouched);
}

INSTANTIATE_TEST_SUITE_P(Confine, ConfineFileOp, ::testing::ValuesIn(kFileOps),
                         [](const ::testing::TestParamInfo<FileOp>& p) {
                             return std::string(p.param.name);
                         });

// gtest prints a parameter it cannot name as bytes; this names the operation.
void PrintTo(const FileOp& op, std::ostream* os)
{
    *os << op.name;
}

// What the client needs keeps working: reading files, and writing to the
// descriptors it had before (its terminal, the socket, a pipe).
TEST_F(Confine, Clause2d_ReadingAndWritingToOpenDescriptorsStillWork)
{
    const std::string file = at("file");
    const std::string out = at("out");
    std::ofstream(file) << "content";
    std::ofstream(out).flush();
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    int status = child_status([&] {
        // Opened before the filter, as the wrapper opens the pty and the log.
        int before = ::open(out.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        int fd = binary_open("/bin/true");
        if (before < 0 || fd < 0 || !tg::confine_exec_once(fd))
            return 10;
        if (::write(before, "written", 7) != 7 || ::write(pipefd[1], "piped", 5) != 5)
            return 11;
        // A system file (Landlock keeps the guest's own files shut, below).
        for (long r : {::syscall(SYS_open, "/etc/passwd", O_RDONLY | O_CLOEXEC),
                       ::syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC)}) {
            char buf[6] = {};
            if (r < 0 || ::read(static_cast<int>(r), buf, 5) != 5 || std::string(buf) != "root:")
                return 12;
        }
        return 0;
    });
    EXPECT_EQ(status, 0) << "10 setup, 11 write to an open descriptor, 12 read-only open";
    ::close(pipefd[1]);
    char buf[16] = {};
    EXPECT_EQ(::read(pipefd[0], buf, sizeof buf), 5);
    ::close(pipefd[0]);
    std::ifstream in(out);
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()),
              "written");
}

// ---- clause 3: Landlock, as a second layer ----

// Landlock's own ABI number on this kernel (0: none).
int landlock_abi_of_kernel()
{
    long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1U);
    return abi < 0 ? 0 : static_cast<int>(abi);
}

TEST(ConfineLandlock, Clause3_LandlockIsAppliedWhereTheKernelHasIt)
{
    const int kernel_abi = landlock_abi_of_kernel();
    ASSERT_GT(kernel_abi, 0) << "this kernel (CONFIG_SECURITY_LANDLOCK) should offer Landlock";
    int status = child_status([&] {
        int fd = binary_open("/bin/true");
        auto rep = tg::confine_exec_once(fd);
        if (!rep)
            return 10;
        return rep->landlock_abi == kernel_abi && rep->note.empty() ? 0 : 11;
    });
    EXPECT_EQ(status, 0);
}

// TCP on a socket opened before the filter: seccomp checks socket() and
// refuses every bind (EPERM), but not connect, which Landlock alone stops
// (EACCES).
int tcp_bind_and_connect(Filter filter)
{
    return child_status([&] {
        int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int binder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in addr {};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (listener < 0 || client < 0 || binder < 0 ||
            ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listener, 1) != 0 ||
            ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            return 98;
        int fd = binary_open("/bin/true");
        if (filter == Filter::on && !tg::confine_exec_once(fd))
            return 99;
        int result = 0;
        if (::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            result |= errno == EACCES ? 1 : 4;
        struct sockaddr_in any {};
        any.sin_family = AF_INET;
        any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(binder, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0)
            result |= errno == EPERM ? 2 : 8;
        return result;
    });
}

TEST(ConfineLandlock, Clause3_TcpConnectDeniedByLandlockAndBindByTheFilter)
{
    ASSERT_GE(landlock_abi_of_kernel(), 4) << "TCP rights need Landlock ABI 4";
    EXPECT_EQ(tcp_bind_and_connect(Filter::on), 1 | 2)
        << "1: connect denied by Landlock (EACCES), 2: bind denied by the filter (EPERM)";
    EXPECT_EQ(tcp_bind_and_connect(Filter::off), 0) << "control: both work without confinement";
}

// open_by_handle_at is no open/openat/creat, so the seccomp filter lets it
// through; Landlock still refuses to open a file for writing (EACCES).
// Needs CAP_DAC_READ_SEARCH, which only root has (the client never does).
int open_by_handle_for_writing(Filter filter, const std::string& dir)
{
    return child_status([&] {
        const std::string file = dir + "/existing";
        std::vector<char> storage(sizeof(struct file_handle) + MAX_HANDLE_SZ);
        auto* fh = reinterpret_cast<struct file_handle*>(storage.data());
        fh->handle_bytes = MAX_HANDLE_SZ;
        int mount_id = 0;
        int mount_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mount_fd < 0 || ::name_to_handle_at(AT_FDCWD, file.c_str(), fh, &mount_id, 0) != 0)
            return 98;
        int fd = binary_open("/bin/true");
        if (filter == Filter::on && !tg::confine_exec_once(fd))
            return 99;
        int w = ::open_by_handle_at(mount_fd, fh, O_WRONLY | O_CLOEXEC);
        if (w < 0)
            return errno;
        return ::write(w, "X", 1) == 1 ? 0 : 97;
    });
}

TEST_F(Confine, Clause3_OpenByHandleForWritingIsDeniedByLandlock)
{
    ASSERT_TRUE(tree_make(at("landlock")));
    EXPECT_EQ(open_by_handle_for_writing(Filter::on, at("landlock")), EACCES);
    std::ifstream in(at("landlock/existing"));
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()),
              "original");
    EXPECT_EQ(open_by_handle_for_writing(Filter::off, at("landlock")), 0) << "control";
}

// Binding an AF_UNIX socket to a path creates a file: the filter refuses
// bind outright (EPERM), and Landlock's MAKE_SOCK would refuse it too.
int unix_bind_at(Filter filter, const std::string& path)
{
    return child_status([&] {
        int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int fd = binary_open("/bin/true");
        if (s < 0 || (filter == Filter::on && !tg::confine_exec_once(fd)))
            return 99;
        struct sockaddr_un addr {};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        return errno_of(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr));
    });
}

TEST_F(Confine, Clause2c_UnixSocketFileIsNotCreated)
{
    EXPECT_EQ(unix_bind_at(Filter::on, at("sock")), EPERM);
    EXPECT_NE(::access(at("sock").c_str(), F_OK), 0) << "a socket file appeared";
    EXPECT_EQ(unix_bind_at(Filter::off, at("control.sock")), 0) << "control";
    EXPECT_EQ(::access(at("control.sock").c_str(), F_OK), 0) << "control";
}

// A Landlock failure other than "not there" is a failure of the whole:
// the kernel allows 16 stacked rulesets, so the 17th confine fails.
TEST(ConfineLandlock, Clause3_OtherLandlockFailureIsConfineFailed)
{
    int status = child_status([] {
        int fd = binary_open("/bin/true");
        for (int i = 0; i < 20; ++i) {
            auto rep = tg::confine_exec_once(fd);
            if (rep)
                continue;
            if (rep.error().reason != "confine-failed" || rep.error().err != E2BIG ||
                rep.error().detail != "landlock_restrict_self")
                return 20;
            return i;
        }
        return 21;
    });
    EXPECT_EQ(status, 16) << "20: another failure than landlock_restrict_self E2BIG, 21: no failure";
}

}  // namespace

// Clause 3: a file outside the system trees (here one of root's under
// /var/lib, standing in for the guest's ~/.ssh) cannot be opened even for
// reading once confined: a server's MSG_READ_OPEN gets nothing. Control:
// the same open works unconfined.
int read_open_errno(bool confined, const std::string& path)
{
    return child_status([&] {
        int fd = binary_open("/bin/true");
        if (confined && !tg::confine_exec_once(fd))
            return 99;
        int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        return f >= 0 ? 0 : errno;
    });
}

TEST_F(Confine, Clause3_FilesOutsideTheSystemTreesCannotBeRead)
{
    std::ofstream(at("secret")) << "id_ed25519";
    EXPECT_EQ(read_open_errno(true, at("secret")), EACCES);
    EXPECT_EQ(read_open_errno(false, at("secret")), 0) << "control";
    EXPECT_EQ(read_open_errno(true, "/etc/passwd"), 0) << "system files stay readable";
}
