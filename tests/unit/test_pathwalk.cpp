// Path walks over real trees (pathwalk.hpp). Each test names the contract
// clause of pathwalk.hpp it proves. Needs root: the trees hold files owned by
// arbitrary numeric uids (no accounts needed) under a root-owned 0755 dir.
#include <gtest/gtest.h>

#include <acl/libacl.h>
#include <fcntl.h>
#include <sys/acl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tmuxguard/acl.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "support.hpp"

namespace {

constexpr uid_t kOwner = 4242424;
constexpr uid_t kOtherUser = 4242425;
constexpr uid_t kThirdUser = 4242426;
constexpr uid_t kNamedUser = 4242427;
constexpr gid_t kGate = 4242400;
constexpr gid_t kOtherGroup = 4242401;
const std::string kPolicyText = "share build owner alice\n";

// Sets owner and mode (chown first: it may clear set-id bits).
void owner_mode_set(const std::string& path, mode_t mode, uid_t uid, gid_t gid)
{
    ASSERT_EQ(::chown(path.c_str(), uid, gid), 0) << path << ": " << std::strerror(errno);
    ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path << ": " << std::strerror(errno);
}

void dir_make(const std::string& path, mode_t mode, uid_t uid = 0, gid_t gid = 0)
{
    ASSERT_EQ(::mkdir(path.c_str(), 0700), 0) << path << ": " << std::strerror(errno);
    owner_mode_set(path, mode, uid, gid);
}

void file_make(const std::string& path, mode_t mode, uid_t uid = 0,
               const std::string& text = kPolicyText)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    owner_mode_set(path, mode, uid, uid);
}

// Binds (and closes) an AF_UNIX socket: the socket inode stays at `path`.
void socket_make(const std::string& path, uid_t uid, gid_t gid)
{
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof addr.sun_path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0)
        << path << ": " << std::strerror(errno);
    ::close(fd);
    ASSERT_EQ(::chown(path.c_str(), uid, gid), 0);
}

// Sets an ACL written in getfacl's short text form (numeric ids).
void acl_text_set(const std::string& path, const char* text)
{
    acl_t acl = acl_from_text(text);
    ASSERT_NE(acl, nullptr) << text;
    const int rc = acl_set_file(path.c_str(), ACL_TYPE_ACCESS, acl);
    const int err = errno;
    acl_free(acl);
    ASSERT_EQ(rc, 0) << path << " " << text << ": " << std::strerror(err);
}

// Whether `fd` refers to the very inode at `path` (not following it).
bool fd_is_inode_at(int fd, const std::string& path)
{
    struct stat a {};
    struct stat b {};
    return ::fstat(fd, &a) == 0 && ::lstat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

std::string fd_read_all(int fd)
{
    std::string out;
    char buf[256];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    return out;
}

using tgtest::expect_refused;

// A root-owned 0755 temp dir under /var/lib, removed in TearDown.
class WalkTree : public tgtest::RootTree {
protected:
    WalkTree() : RootTree("they chown to other uids") {}
};

// ROOT/etc (root 0755) / policy.conf (root 0644).
class TrustedFile : public WalkTree {
protected:
    void SetUp() override
    {
        WalkTree::SetUp();
        if (HasFatalFailure())
            return;
        dir_make(at("etc"), 0755);
        file_make(at("etc/policy.conf"), 0644);
        path_ = at("etc/policy.conf");
    }
    std::string path_;
};

TEST_F(TrustedFile, Clause6_OpensTheCheckedInodeForReading)
{
    auto fd = tg::open_trusted_file(path_);
    ASSERT_TRUE(fd.has_value()) << fd.error().message();
    EXPECT_TRUE(fd_is_inode_at(fd->get(), path_));
    EXPECT_EQ(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    // Swapping another file in at the path afterwards changes nothing for us.
    file_make(at("etc/evil"), 0666, kOwner, "evil\n");
    ASSERT_EQ(::rename(at("etc/evil").c_str(), path_.c_str()), 0);
    EXPECT_EQ(fd_read_all(fd->get()), kPolicyText);
}

TEST_F(TrustedFile, Clause2_FileOwnedByNonRootRefused)
{
    owner_mode_set(path_, 0644, kOwner, kOwner);
    expect_refused(tg::open_trusted_file(path_), "file-unsafe", path_);
}

TEST_F(TrustedFile, Clause2_FileGroupWritableRefused)
{
    owner_mode_set(path_, 0664, 0, 0);
    expect_refused(tg::open_trusted_file(path_), "file-unsafe", path_);
}

TEST_F(TrustedFile, Clause2_FileOtherWritableRefused)
{
    owner_mode_set(path_, 0646, 0, 0);
    expect_refused(tg::open_trusted_file(path_), "file-unsafe", path_);
}

TEST_F(TrustedFile, Clause2_FileWithNamedUserWriteAclRefused)
{
    acl_text_set(path_, "u::rw-,u:4242424:rw-,g::r--,m::rw-,o::r--");
    expect_refused(tg::open_trusted_file(path_), "file-unsafe", path_);
}

TEST_F(TrustedFile, Clause2_FifoAsLastComponentRefusedWithoutHanging)
{
    ASSERT_EQ(::mkfifo(at("etc/fifo").c_str(), 0644), 0);
    ::alarm(10);  // a blocking open would kill this binary: a failure, never a hang
    auto r = tg::open_trusted_file(at("etc/fifo"));
    ::alarm(0);
    expect_refused(r, "file-unsafe");
}

TEST_F(TrustedFile, Clause2_DirectoryAsLastComponentRefused)
{
    expect_refused(tg::open_trusted_file(at("etc")), "file-unsafe", at("etc"));
}

TEST_F(TrustedFile, Clause2_SocketAsLastComponentRefused)
{
    socket_make(at("etc/sock"), 0, 0);
    expect_refused(tg::open_trusted_file(at("etc/sock")), "file-unsafe");
}

TEST_F(TrustedFile, Clause5_ParentGroupWritableRefused)
{
    owner_mode_set(at("etc"), 0775, 0, 0);
    expect_refused(tg::open_trusted_file(path_), "path-unsafe-dir", at("etc"));
}

TEST_F(TrustedFile, Clause5_ParentOwnedByNonRootRefused)
{
    owner_mode_set(at("etc"), 0755, kOwner, kOwner);
    expect_refused(tg::open_trusted_file(path_), "path-unsafe-dir", at("etc"));
}

TEST_F(TrustedFile, Clause5_ParentWithNamedUserWriteAclRefused)
{
    // The named entry's w shows in st_mode's group bits (the mask).
    acl_text_set(at("etc"), "u::rwx,u:4242424:rwx,g::r-x,m::rwx,o::r-x");
    expect_refused(tg::open_trusted_file(path_), "path-unsafe-dir", at("etc"));
}

TEST_F(TrustedFile, Clause5_RootStickyDirNotAcceptedForTrustedFiles)
{
    owner_mode_set(at("etc"), 01777, 0, 0);
    expect_refused(tg::open_trusted_file(path_), "path-unsafe-dir", at("etc"));
}

TEST_F(TrustedFile, Clause5_NonDirectoryInTheMiddleRefused)
{
    expect_refused(tg::open_trusted_file(path_ + "/x"), "path-unsafe-dir", path_);
}

TEST_F(TrustedFile, Clause1_EveryAncestorFromRootIsChecked)
{
    owner_mode_set(root_, 0775, 0, 0);
    expect_refused(tg::open_trusted_file(path_), "path-unsafe-dir", root_);
}

TEST_F(TrustedFile, Clause3_SymlinkAsLastComponentRefused)
{
    ASSERT_EQ(::symlink(path_.c_str(), at("etc/link").c_str()), 0);
    expect_refused(tg::open_trusted_file(at("etc/link")), "path-symlink", at("etc/link"));
}

TEST_F(TrustedFile, Clause3_SymlinkInMiddleRefused)
{
    ASSERT_EQ(::symlink(at("etc").c_str(), at("etc2").c_str()), 0);
    expect_refused(tg::open_trusted_file(at("etc2/policy.conf")), "path-symlink", at("etc2"));
}

TEST_F(TrustedFile, Clause4_RelativeDotAndEmptyComponentsRefused)
{
    const std::vector<std::string> bad = {
        "",
        "/",
        "etc/policy.conf",
        "./policy.conf",
        at("etc/../etc/policy.conf"),
        at("./etc/policy.conf"),
        at("etc/./policy.conf"),
        at("etc/policy.conf/.."),
        root_ + "//etc/policy.conf",
        path_ + "/",
        std::string("/etc\0/x", 7),
    };
    for (const std::string& p : bad) {
        SCOPED_TRACE(p);
        expect_refused(tg::open_trusted_file(p), "path-invalid");
    }
}

TEST_F(TrustedFile, Clause4_ComponentCountAndLengthCapped)
{
    std::string deep;
    for (int i = 0; i < 40; ++i)
        deep += "/d";
    expect_refused(tg::open_trusted_file(deep), "path-invalid");
    expect_refused(tg::open_trusted_file("/" + std::string(256, 'a')), "path-invalid");
    expect_refused(tg::open_trusted_file("/" + std::string(4096, 'a')), "path-invalid");
}

TEST_F(TrustedFile, MissingFileIsPathMissing)
{
    expect_refused(tg::open_trusted_file(at("etc/nope")), "path-missing", at("etc/nope"));
    expect_refused(tg::open_trusted_file(at("nodir/policy.conf")), "path-missing", at("nodir"));
}

TEST_F(TrustedFile, CheckTrustedFileNeedsNoReadPermission)
{
    owner_mode_set(path_, 0600, 0, 0);
    auto ok = tg::check_trusted_file(path_);
    EXPECT_TRUE(ok.has_value()) << ok.error().message();
}

TEST_F(TrustedFile, CheckTrustedFileRefusesLikeOpen)
{
    ASSERT_EQ(::symlink(path_.c_str(), at("etc/link").c_str()), 0);
    expect_refused(tg::check_trusted_file(at("etc/link")), "path-symlink");
    owner_mode_set(path_, 0664, 0, 0);
    expect_refused(tg::check_trusted_file(path_), "file-unsafe");
    owner_mode_set(at("etc"), 0755, kOwner, kOwner);
    expect_refused(tg::check_trusted_file(path_), "path-unsafe-dir");
}

// ROOT/run (root 0755) / owner (kOwner 0700) / share (socket, kOwner, ACL
// applied with acl_apply_socket as `tmuxguard serve` does).
class SocketWalk : public WalkTree {
protected:
    void SetUp() override
    {
        WalkTree::SetUp();
        if (HasFatalFailure())
            return;
        dir_make(at("run"), 0755);
        dir_make(at("run/owner"), 0700, kOwner, kOwner);
        path_ = at("run/owner/share");
        socket_make(path_, kOwner, kOwner);
        socket_acl_apply(path_);
    }
    static void socket_acl_apply(const std::string& path)
    {
        tg::UniqueFd fd = tgtest::path_open(path);
        ASSERT_TRUE(fd.valid());
        auto ok = tg::acl_apply_socket(fd.get(), kGate);
        ASSERT_TRUE(ok.has_value()) << ok.error().message();
    }
    void expect_accepted(const std::string& path) const
    {
        auto fd = tg::socket_open_verified(path, kOwner, kGate);
        ASSERT_TRUE(fd.has_value()) << fd.error().message();
        EXPECT_TRUE(fd_is_inode_at(fd->get(), path));
    }
    std::string path_;
};

TEST_F(SocketWalk, Clause6_ReturnsOpathDescriptorOfTheSocket)
{
    auto fd = tg::socket_open_verified(path_, kOwner, kGate);
    ASSERT_TRUE(fd.has_value()) << fd.error().message();
    EXPECT_TRUE(fd_is_inode_at(fd->get(), path_));
    EXPECT_EQ(::fcntl(fd->get(), F_GETFL) & O_PATH, O_PATH);
    EXPECT_EQ(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(SocketWalk, Clause2_WorldAccessibleSocketRefused)
{
    ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "socket-mode-unsafe",
                   "other::rw-");
}

TEST_F(SocketWalk, Clause2_SocketOwnedByAnotherUidRefused)
{
    ASSERT_EQ(::chown(path_.c_str(), kOtherUser, kOwner), 0);
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "socket-owner-mismatch", path_);
}

TEST_F(SocketWalk, Clause2_RegularFileAtSocketPathRefused)
{
    ASSERT_EQ(::unlink(path_.c_str()), 0);
    file_make(path_, 0600, kOwner);
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "not-a-socket", path_);
}

TEST_F(SocketWalk, Clause3_SymlinkToGoodSocketRefused)
{
    ASSERT_EQ(::symlink(path_.c_str(), at("run/owner/link").c_str()), 0);
    ASSERT_EQ(::lchown(at("run/owner/link").c_str(), kOwner, kOwner), 0);
    expect_refused(tg::socket_open_verified(at("run/owner/link"), kOwner, kGate), "path-symlink",
                   at("run/owner/link"));
}

TEST_F(SocketWalk, Clause3_SymlinkedDirectoryInMiddleRefused)
{
    ASSERT_EQ(::symlink(at("run/owner").c_str(), at("run/alias").c_str()), 0);
    expect_refused(tg::socket_open_verified(at("run/alias/share"), kOwner, kGate), "path-symlink",
                   at("run/alias"));
}

TEST_F(SocketWalk, Clause4_RelativePathRefused)
{
    expect_refused(tg::socket_open_verified("run/owner/share", kOwner, kGate), "path-invalid");
    expect_refused(tg::socket_open_verified(at("run/owner/../owner/share"), kOwner, kGate),
                   "path-invalid");
}

TEST_F(SocketWalk, Clause5_ParentGroupWritableRefused)
{
    owner_mode_set(at("run/owner"), 0770, kOwner, kOwner);
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "path-unsafe-dir",
                   at("run/owner"));
}

TEST_F(SocketWalk, Clause5_ParentOwnedByThirdUidRefused)
{
    owner_mode_set(at("run/owner"), 0700, kThirdUser, kThirdUser);
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "path-unsafe-dir",
                   at("run/owner"));
}

TEST_F(SocketWalk, Clause5_RootOwnedStickyDirAccepted)
{
    dir_make(at("tmp"), 01777);
    dir_make(at("tmp/owner"), 0700, kOwner, kOwner);
    socket_make(at("tmp/owner/share"), kOwner, kOwner);
    socket_acl_apply(at("tmp/owner/share"));
    expect_accepted(at("tmp/owner/share"));
}

TEST_F(SocketWalk, Clause5_StickyDirNotOwnedByRootRefused)
{
    dir_make(at("tmp"), 01777, kOwner, kOwner);
    dir_make(at("tmp/owner"), 0700, kOwner, kOwner);
    socket_make(at("tmp/owner/share"), kOwner, kOwner);
    socket_acl_apply(at("tmp/owner/share"));
    expect_refused(tg::socket_open_verified(at("tmp/owner/share"), kOwner, kGate),
                   "path-unsafe-dir", at("tmp"));
}

TEST_F(SocketWalk, Clause2_NamedUserReadWriteIsOvergrant)
{
    acl_text_set(path_, "u::rw-,u:4242427:rw-,g::---,g:4242400:rw-,m::rw-,o::---");
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "acl-overgrant",
                   "user:" + std::to_string(kNamedUser) + ":rw-");
}

TEST_F(SocketWalk, Clause2_NamedUserEntryForTheOwnerAccepted)
{
    acl_text_set(path_, "u::rw-,u:4242424:rw-,g::---,g:4242400:rw-,m::rw-,o::---");
    expect_accepted(path_);
}

// The mask applies to the named user, so it is no overgrant; but the mask
// applies to the gate entry as well, so a mask of --- always leaves the gate
// without rw: the refusal is the gate's, not the named user's.
TEST_F(SocketWalk, Clause2_NamedUserUnderEmptyMaskIsNotOvergrant)
{
    acl_text_set(path_, "u::rw-,u:4242427:rw-,g::---,g:4242400:rw-,m::---,o::---");
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "acl-gate-missing");
}

TEST_F(SocketWalk, Clause2_GateEntryMissingRefused)
{
    acl_text_set(path_, "u::rw-,g::---,o::---");
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "acl-gate-missing",
                   "group:" + std::to_string(kGate) + ":rw-");
}

TEST_F(SocketWalk, Clause2_ExtraNamedGroupReadWriteIsOvergrant)
{
    acl_text_set(path_, "u::rw-,g::---,g:4242400:rw-,g:4242401:rw-,m::rw-,o::---");
    expect_refused(tg::socket_open_verified(path_, kOwner, kGate), "acl-overgrant",
                   "group:" + std::to_string(kOtherGroup) + ":rw-");
}

TEST_F(SocketWalk, Clause2_SocketGroupIsTheGateAccepted)
{
    acl_text_set(path_, "u::rw-,g::rw-,o::---");
    ASSERT_EQ(::chown(path_.c_str(), kOwner, kGate), 0);
    expect_accepted(path_);
}

TEST_F(SocketWalk, Clause2_ExecuteBitsToggledByTmuxAccepted)
{
    // tmux chmods the socket's x bits as clients come and go; with an ACL
    // the group bits are the mask, so these toggle user::x and mask::x.
    for (mode_t mode : {0770, 0670, 0760, 0660, 0771}) {
        SCOPED_TRACE(mode);
        ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
        expect_accepted(path_);
    }
}

TEST_F(SocketWalk, MissingSocketIsSocketMissing)
{
    expect_refused(tg::socket_open_verified(at("run/owner/nope"), kOwner, kGate),
                   "socket-missing", at("run/owner/nope"));
    expect_refused(tg::socket_open_verified(at("run/nodir/share"), kOwner, kGate),
                   "socket-missing", at("run/nodir"));
}

TEST_F(SocketWalk, Clause6_DirOpenVerifiedReturnsTheCheckedDirectory)
{
    auto fd = tg::dir_open_verified(at("run/owner"), kOwner);
    ASSERT_TRUE(fd.has_value()) << fd.error().message();
    EXPECT_TRUE(fd_is_inode_at(fd->get(), at("run/owner")));
    EXPECT_EQ(::fcntl(fd->get(), F_GETFL) & O_PATH, O_PATH);
    struct stat st {};
    ASSERT_EQ(::fstat(fd->get(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(SocketWalk, Clause5_DirOpenVerifiedChecksTheLastComponent)
{
    owner_mode_set(at("run/owner"), 0770, kOwner, kOwner);
    expect_refused(tg::dir_open_verified(at("run/owner"), kOwner), "path-unsafe-dir",
                   at("run/owner"));
    owner_mode_set(at("run/owner"), 0700, kThirdUser, kThirdUser);
    expect_refused(tg::dir_open_verified(at("run/owner"), kOwner), "path-unsafe-dir",
                   at("run/owner"));
    owner_mode_set(at("run/owner"), 0700, kOwner, kOwner);
    expect_refused(tg::dir_open_verified(path_, kOwner), "path-unsafe-dir", path_);
}

TEST_F(SocketWalk, Clause3_DirOpenVerifiedRefusesSymlinkAsLastComponent)
{
    ASSERT_EQ(::symlink(at("run/owner").c_str(), at("run/alias").c_str()), 0);
    expect_refused(tg::dir_open_verified(at("run/alias"), kOwner), "path-symlink", at("run/alias"));
}

TEST_F(SocketWalk, DirOpenVerifiedMissingIsPathMissing)
{
    expect_refused(tg::dir_open_verified(at("run/nope"), kOwner), "path-missing", at("run/nope"));
}

TEST(FdProcPath, NamesTheDescriptor)
{
    EXPECT_EQ(tg::fd_proc_path(7), "/proc/self/fd/7");
}

}  // namespace

// trusted_dir_open(): the drop-in directory is judged like the policy's own.
TEST_F(TrustedFile, TrustedDir_RootOwnedDirectoryOpens)
{
    auto fd = tg::trusted_dir_open(at("etc"));
    ASSERT_TRUE(fd.has_value()) << fd.error().message();
    EXPECT_TRUE(fd_is_inode_at(fd->get(), at("etc")));
}

TEST_F(TrustedFile, TrustedDir_RootStickyDirectoryRefused)
{
    owner_mode_set(at("etc"), 01777, 0, 0);
    expect_refused(tg::trusted_dir_open(at("etc")), "path-unsafe-dir", at("etc"));
}

TEST_F(TrustedFile, TrustedDir_DirectoryOwnedByNonRootRefused)
{
    owner_mode_set(at("etc"), 0755, kOwner, 0);
    expect_refused(tg::trusted_dir_open(at("etc")), "path-unsafe-dir", at("etc"));
}

TEST_F(TrustedFile, TrustedDir_SymlinkRefused)
{
    ASSERT_EQ(::symlink(at("etc").c_str(), at("link").c_str()), 0);
    expect_refused(tg::trusted_dir_open(at("link")), "path-symlink");
}

// read_trusted_file(): the checked file's whole text, and a size cap.
TEST_F(TrustedFile, ReadTrusted_ReturnsTheWholeFile)
{
    auto text = tg::read_trusted_file(path_, 1 << 20);
    ASSERT_TRUE(text.has_value()) << text.error().message();
    EXPECT_EQ(*text, kPolicyText);
}

TEST_F(TrustedFile, ReadTrusted_LargerThanTheCapRefused)
{
    expect_refused(tg::read_trusted_file(path_, std::string_view(kPolicyText).size() - 1),
                   "file-too-large", path_);
}

TEST_F(TrustedFile, ReadTrusted_UnsafeFileRefusedBeforeReading)
{
    owner_mode_set(path_, 0666, 0, 0);
    expect_refused(tg::read_trusted_file(path_, 1 << 20), "file-unsafe");
}
