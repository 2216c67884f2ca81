// Runtime directories on real trees (runtime_dir.hpp) and the ACL helpers
// they use (acl.hpp: runtime_dir_acl_judge, acl_read_default_fd). Each test
// names the contract clause or the documented behaviour it proves. Needs
// root: the trees hold directories owned by arbitrary numeric ids (no
// accounts needed) under a root-owned 0755 dir in /var/lib.
#include <gtest/gtest.h>

#include <acl/libacl.h>
#include <fcntl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "tmuxguard/acl.hpp"
#include "tmuxguard/runtime_dir.hpp"
#include "support.hpp"

namespace {

constexpr uid_t kUser = 54321;
constexpr gid_t kUserGroup = 54322;
constexpr uid_t kStranger = 54399;
constexpr gid_t kGate = 54300;
constexpr gid_t kOtherGroup = 54301;
// The ACL runtime_user_dir_ensure() leaves, as getfacl -n writes it.
const std::string kRuntimeAcl = "user::rwx,group::---,group:54300:--x,mask::--x,other::---";

using tgtest::expect_refused;

// Sets owner and mode (chown first: it may clear set-id bits).
void owner_mode_set(const std::string& path, mode_t mode, uid_t uid, gid_t gid)
{
    ASSERT_EQ(::lchown(path.c_str(), uid, gid), 0) << path << ": " << std::strerror(errno);
    ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path << ": " << std::strerror(errno);
}

void dir_make(const std::string& path, mode_t mode, uid_t uid = 0, gid_t gid = 0)
{
    ASSERT_EQ(::mkdir(path.c_str(), 0700), 0) << path << ": " << std::strerror(errno);
    owner_mode_set(path, mode, uid, gid);
}

void file_make(const std::string& path, mode_t mode, uid_t uid = 0, gid_t gid = 0)
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
    ::close(fd);
    owner_mode_set(path, mode, uid, gid);
}

// Sets an ACL of `type` written in getfacl's short text form (numeric ids).
void acl_text_set(const std::string& path, const char* text, acl_type_t type = ACL_TYPE_ACCESS)
{
    acl_t acl = acl_from_text(text);
    ASSERT_NE(acl, nullptr) << text;
    const int rc = acl_set_file(path.c_str(), type, acl);
    const int err = errno;
    acl_free(acl);
    ASSERT_EQ(rc, 0) << path << " " << text << ": " << std::strerror(err);
}

// The ACL of `type` at `path` as "user::rwx,group::---,..." (numeric ids),
// read with libacl itself rather than the code under test; "" when the
// default ACL is empty, "error" when it cannot be read.
std::string acl_text_get(const std::string& path, acl_type_t type = ACL_TYPE_ACCESS)
{
    acl_t acl = acl_get_file(path.c_str(), type);
    if (acl == nullptr)
        return "error";
    char* text = acl_to_any_text(acl, nullptr, ',', TEXT_NUMERIC_IDS);
    std::string out = text != nullptr ? text : "error";
    acl_free(text);
    acl_free(acl);
    return out;
}

// lstat() or a zeroed stat (st_ino 0) when the path is missing.
struct stat lstat_of(const std::string& path)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        st = {};
    return st;
}

bool path_exists(const std::string& path)
{
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// Whether `fd` refers to the very inode at `path` (not following it).
bool fd_is_inode_at(int fd, const std::string& path)
{
    struct stat a {};
    struct stat b {};
    return ::fstat(fd, &a) == 0 && ::lstat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

// Owner, group, type+mode and ACLs of a path: what "left untouched" compares.
struct Snapshot {
    uid_t uid;
    gid_t gid;
    mode_t mode;
    ino_t ino;
    std::string acl;
    std::string dflt;
    bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot_of(const std::string& path, bool is_dir = true)
{
    const struct stat st = lstat_of(path);
    return {st.st_uid, st.st_gid, st.st_mode, st.st_ino, acl_text_get(path),
            is_dir ? acl_text_get(path, ACL_TYPE_DEFAULT) : std::string()};
}

std::ostream& operator<<(std::ostream& os, const Snapshot& s)
{
    return os << s.uid << ":" << s.gid << " mode " << std::oct << s.mode << std::dec << " ino "
              << s.ino << " acl " << s.acl << " default " << s.dflt;
}

// Sets the process umask for the object's lifetime.
class UmaskScope {
public:
    explicit UmaskScope(mode_t mask) : saved_(::umask(mask)) {}
    UmaskScope(const UmaskScope&) = delete;
    UmaskScope& operator=(const UmaskScope&) = delete;
    ~UmaskScope() { ::umask(saved_); }

private:
    mode_t saved_;
};

// ---------------------------------------------------------------------------
// runtime_dir_acl_judge / acl_read_default_fd (acl.hpp)

using tg::AclEntry;
using tg::AclTag;

const std::vector<AclEntry> kContractAcl = {{AclTag::user_obj, 0, 7},
                                            {AclTag::group_obj, 0, 0},
                                            {AclTag::group, kGate, 1},
                                            {AclTag::mask, 0, 1},
                                            {AclTag::other, 0, 0}};

TEST(RuntimeDirAclJudge, ContractAclAccepted)
{
    EXPECT_TRUE(tg::runtime_dir_acl_judge(kContractAcl, kGate).has_value());
}

TEST(RuntimeDirAclJudge, ModeBitsOnlyAccepted)
{
    const std::vector<AclEntry> plain = {{AclTag::user_obj, 0, 7},
                                         {AclTag::group_obj, 0, 7},
                                         {AclTag::other, 0, 7}};
    EXPECT_TRUE(tg::runtime_dir_acl_judge(plain, kGate).has_value());
}

TEST(RuntimeDirAclJudge, GateEntryWithAnyPermsAccepted)
{
    std::vector<AclEntry> acl = kContractAcl;
    acl[2].perms = 7;  // wrong, but repaired by the caller, not refused
    acl[3].perms = 7;
    EXPECT_TRUE(tg::runtime_dir_acl_judge(acl, kGate).has_value());
}

TEST(RuntimeDirAclJudge, NamedUserRefusedWhateverItsPerms)
{
    for (std::uint8_t perms : {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{7}}) {
        std::vector<AclEntry> acl = kContractAcl;
        acl.insert(acl.begin() + 1, AclEntry{AclTag::user, kStranger, perms});
        auto r = tg::runtime_dir_acl_judge(acl, kGate);
        expect_refused(r, "acl-overgrant");
        if (!r) {
            EXPECT_NE(r.error().subject.find("user:54399:"), std::string::npos)
                << r.error().message();
        }
    }
}

TEST(RuntimeDirAclJudge, NamedGroupOtherThanGateRefusedWhateverItsPerms)
{
    for (std::uint8_t perms : {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{7}}) {
        std::vector<AclEntry> acl = kContractAcl;
        acl.insert(acl.begin() + 3, AclEntry{AclTag::group, kOtherGroup, perms});
        auto r = tg::runtime_dir_acl_judge(acl, kGate);
        expect_refused(r, "acl-overgrant");
        if (!r) {
            EXPECT_NE(r.error().subject.find("group:54301:"), std::string::npos)
                << r.error().message();
        }
    }
}

TEST(RuntimeDirAclJudge, NamedUserWithTheOwnersIdStillRefused)
{
    // Even an entry naming the owner is someone's edit, not ours.
    std::vector<AclEntry> acl = kContractAcl;
    acl.insert(acl.begin() + 1, AclEntry{AclTag::user, kUser, 7});
    expect_refused(tg::runtime_dir_acl_judge(acl, kGate), "acl-overgrant");
}

class AclDefaultTree : public tgtest::RootTree {
protected:
    AclDefaultTree() : RootTree("they set ACLs on root's temp dirs") {}
};

TEST_F(AclDefaultTree, DirectoryWithoutDefaultAclYieldsNothing)
{
    dir_make(at("d"), 0755);
    tg::UniqueFd fd = tgtest::path_open(at("d"));
    auto dflt = tg::acl_read_default_fd(fd.get());
    ASSERT_TRUE(dflt.has_value()) << dflt.error().message();
    EXPECT_TRUE(dflt->empty());
}

TEST_F(AclDefaultTree, DefaultAclReadThroughTheDescriptor)
{
    dir_make(at("d"), 0755);
    acl_text_set(at("d"), "u::rwx,u:54399:r-x,g::r-x,m::r-x,o::---", ACL_TYPE_DEFAULT);
    tg::UniqueFd fd = tgtest::path_open(at("d"));
    // Renamed away: the descriptor, not the path, is read.
    ASSERT_EQ(::rename(at("d").c_str(), at("moved").c_str()), 0);
    dir_make(at("d"), 0755);
    auto dflt = tg::acl_read_default_fd(fd.get());
    ASSERT_TRUE(dflt.has_value()) << dflt.error().message();
    ASSERT_EQ(dflt->size(), 5u);
    bool named_seen = false;
    for (const AclEntry& e : *dflt)
        named_seen = named_seen || (e.tag == AclTag::user && e.id == kStranger && e.perms == 5);
    EXPECT_TRUE(named_seen);
}

TEST_F(AclDefaultTree, UnreadableDescriptorIsAnError)
{
    expect_refused(tg::acl_read_default_fd(tgtest::fd_number_closed()), "acl-read-failed");
}

// ---------------------------------------------------------------------------
// runtime_user_dir_ensure

// ROOT is RUNTIME; runtime_fd_ is its O_PATH descriptor.
class UserDir : public tgtest::RootTree {
protected:
    UserDir() : RootTree("they chown to other uids") {}
    void SetUp() override
    {
        RootTree::SetUp();
        if (HasFatalFailure())
            return;
        runtime_fd_ = tgtest::path_open(root_);
        ASSERT_TRUE(runtime_fd_.valid()) << std::strerror(errno);
        dir_ = at(std::to_string(kUser));
    }
    [[nodiscard]] tg::Result<tg::RuntimeDir> ensure() const
    {
        return tg::runtime_user_dir_ensure(runtime_fd_.get(), root_, kUser, kUserGroup, kGate);
    }
    // Asserts the directory is in the contract's state: kUser:kUserGroup,
    // mode 0700 with the five ACL entries (st_mode's group bits show the
    // mask: 0710), no default ACL.
    void expect_contract_state() const
    {
        const struct stat st = lstat_of(dir_);
        EXPECT_TRUE(S_ISDIR(st.st_mode));
        EXPECT_EQ(st.st_uid, kUser);
        EXPECT_EQ(st.st_gid, kUserGroup);
        EXPECT_EQ(st.st_mode & 07777, 0710u) << std::oct << st.st_mode;
        EXPECT_EQ(acl_text_get(dir_), kRuntimeAcl);
        EXPECT_EQ(acl_text_get(dir_, ACL_TYPE_DEFAULT), "");
    }
    // Asserts a refusal with `reason` that left `path` exactly as `before`.
    void expect_refused_untouched(const std::string& reason, const Snapshot& before,
                                  bool is_dir = true) const
    {
        expect_refused(ensure(), reason, dir_);
        EXPECT_EQ(snapshot_of(dir_, is_dir), before);
    }

    tg::UniqueFd runtime_fd_;
    std::string dir_;
};

TEST_F(UserDir, CreatedFreshWithOwnerModeAndExactlyTheFiveAclEntries)
{
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_TRUE(r->created);
    EXPECT_EQ(r->repaired, "");
    EXPECT_EQ(r->path, dir_);
    EXPECT_TRUE(fd_is_inode_at(r->fd.get(), dir_));
    expect_contract_state();
}

TEST_F(UserDir, Clause5_ModeSetExplicitlyWhateverTheUmask)
{
    for (mode_t mask : {mode_t{0}, mode_t{077}, mode_t{0777}}) {
        SCOPED_TRACE(mask);
        {
            UmaskScope scope(mask);
            auto r = ensure();
            ASSERT_TRUE(r.has_value()) << r.error().message();
            EXPECT_TRUE(r->created);
        }
        expect_contract_state();
        ASSERT_EQ(::rmdir(dir_.c_str()), 0);
    }
}

TEST_F(UserDir, SecondCallIsIdempotent)
{
    auto first = ensure();
    ASSERT_TRUE(first.has_value()) << first.error().message();
    const Snapshot before = snapshot_of(dir_);
    auto again = ensure();
    ASSERT_TRUE(again.has_value()) << again.error().message();
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->repaired, "");
    EXPECT_EQ(snapshot_of(dir_), before);
    EXPECT_TRUE(fd_is_inode_at(again->fd.get(), dir_));
}

TEST_F(UserDir, ContractStateMadeByHandAcceptedAsIs)
{
    dir_make(dir_, 0700, kUser, kUserGroup);
    acl_text_set(dir_, kRuntimeAcl.c_str());
    const Snapshot before = snapshot_of(dir_);
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_FALSE(r->created);
    EXPECT_EQ(r->repaired, "");
    EXPECT_EQ(snapshot_of(dir_), before);
}

TEST_F(UserDir, RootOwnedDirectoryHandedToTheUser)
{
    dir_make(dir_, 0700, 0, 0);
    const ino_t ino = lstat_of(dir_).st_ino;
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_FALSE(r->created);
    EXPECT_NE(r->repaired.find("owner 0"), std::string::npos) << r->repaired;
    EXPECT_EQ(lstat_of(dir_).st_ino, ino);
    expect_contract_state();
}

TEST_F(UserDir, WrongGroupRepaired)
{
    dir_make(dir_, 0700, kUser, kOtherGroup);
    acl_text_set(dir_, kRuntimeAcl.c_str());
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_NE(r->repaired.find("owner"), std::string::npos) << r->repaired;
    expect_contract_state();
}

TEST_F(UserDir, WrongModeRepaired)
{
    dir_make(dir_, 0777, kUser, kUserGroup);
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_FALSE(r->created);
    EXPECT_NE(r->repaired.find("mode 0777"), std::string::npos) << r->repaired;
    expect_contract_state();
}

TEST_F(UserDir, SetIdAndStickyBitsRepaired)
{
    dir_make(dir_, 03700, kUser, kUserGroup);
    acl_text_set(dir_, kRuntimeAcl.c_str());
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_NE(r->repaired.find("mode 3710"), std::string::npos) << r->repaired;
    expect_contract_state();
}

TEST_F(UserDir, GateEntryMissingRepaired)
{
    // 0710 without an ACL: the mode looks right, the gate entry is missing.
    dir_make(dir_, 0710, kUser, kUserGroup);
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_FALSE(r->created);
    EXPECT_NE(r->repaired.find("acl"), std::string::npos) << r->repaired;
    expect_contract_state();
}

TEST_F(UserDir, PlainMode0700WithoutGateEntryRepaired)
{
    dir_make(dir_, 0700, kUser, kUserGroup);
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->repaired, "acl");  // the mode was right; the gate entry was missing
    expect_contract_state();
}

TEST_F(UserDir, DifferentGateEntryRepaired)
{
    // The mask hides the gate's r: st_mode says 0710, the entry is wrong.
    dir_make(dir_, 0700, kUser, kUserGroup);
    acl_text_set(dir_, "u::rwx,g::---,g:54300:r-x,m::--x,o::---");
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_NE(r->repaired.find("acl"), std::string::npos) << r->repaired;
    expect_contract_state();
}

TEST_F(UserDir, WideGateEntryRepaired)
{
    dir_make(dir_, 0700, kUser, kUserGroup);
    acl_text_set(dir_, "u::rwx,g::---,g:54300:rwx,m::rwx,o::---");
    auto r = ensure();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_NE(r->repaired, "");
    expect_contract_state();
}

TEST_F(UserDir, Clause1_CreatesUnderTheDescriptorNotThePathText)
{
    // RUNTIME renamed after it was opened: the directory goes where the
    // descriptor points, and nothing appears at the old text path.
    ASSERT_EQ(::rename(root_.c_str(), (root_ + ".moved").c_str()), 0);
    const std::string moved = root_ + ".moved";
    auto r = ensure();
    const bool old_exists = path_exists(root_);
    const bool made_there = path_exists(moved + "/" + std::to_string(kUser));
    ASSERT_EQ(::rename(moved.c_str(), root_.c_str()), 0);  // TearDown removes it
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_FALSE(old_exists);
    EXPECT_TRUE(made_there);
    expect_contract_state();
}

TEST_F(UserDir, Clause3_SymlinkRefusedAndItsTargetUntouched)
{
    dir_make(at("target"), 0777, kStranger, kOtherGroup);
    ASSERT_EQ(::symlink(at("target").c_str(), dir_.c_str()), 0);
    const Snapshot target = snapshot_of(at("target"));
    expect_refused_untouched("path-symlink", snapshot_of(dir_, false), false);
    EXPECT_EQ(snapshot_of(at("target")), target);
}

TEST_F(UserDir, Clause3_DanglingSymlinkRefusedAndNothingCreatedThroughIt)
{
    ASSERT_EQ(::symlink(at("nothing").c_str(), dir_.c_str()), 0);
    expect_refused(ensure(), "path-symlink", dir_);
    EXPECT_FALSE(path_exists(at("nothing")));
}

TEST_F(UserDir, Clause3_FifoRefusedAndUntouched)
{
    ASSERT_EQ(::mkfifo(dir_.c_str(), 0600), 0);
    owner_mode_set(dir_, 0666, kUser, kUserGroup);
    ::alarm(10);  // opening a FIFO for reading would block: a failure, never a hang
    expect_refused_untouched("path-unsafe-dir", snapshot_of(dir_, false), false);
    ::alarm(0);
}

TEST_F(UserDir, Clause3_RegularFileRefusedAndUntouched)
{
    file_make(dir_, 0644, kStranger, kOtherGroup);
    expect_refused_untouched("path-unsafe-dir", snapshot_of(dir_, false), false);
}

TEST_F(UserDir, Clause3_OtherUsersDirectoryRefusedAndNotChowned)
{
    dir_make(dir_, 0777, kStranger, kOtherGroup);
    expect_refused_untouched("path-unsafe-dir", snapshot_of(dir_));
}

TEST_F(UserDir, Clause3_NamedUserEntryRefusedAndLeftInPlace)
{
    dir_make(dir_, 0700, kUser, kUserGroup);
    acl_text_set(dir_, "u::rwx,u:54399:r-x,g::---,g:54300:--x,m::r-x,o::---");
    expect_refused_untouched("acl-overgrant", snapshot_of(dir_));
}

TEST_F(UserDir, Clause3_NamedUserEntryWithoutPermsStillRefused)
{
    dir_make(dir_, 0700, kUser, kUserGroup);
    acl_text_set(dir_, "u::rwx,u:54399:---,g::---,g:54300:--x,m::--x,o::---");
    expect_refused_untouched("acl-overgrant", snapshot_of(dir_));
}

TEST_F(UserDir, Clause3_NamedGroupOtherThanGateRefusedAndLeftInPlace)
{
    dir_make(dir_, 0700, kUser, kUserGroup);
    acl_text_set(dir_, "u::rwx,g::---,g:54301:--x,g:54300:--x,m::--x,o::---");
    expect_refused_untouched("acl-overgrant", snapshot_of(dir_));
}

TEST_F(UserDir, Clause3_DefaultAclRefusedAndLeftInPlace)
{
    dir_make(dir_, 0700, kUser, kUserGroup);
    acl_text_set(dir_, kRuntimeAcl.c_str());
    acl_text_set(dir_, "u::rwx,g::---,o::---", ACL_TYPE_DEFAULT);
    expect_refused_untouched("acl-overgrant", snapshot_of(dir_));
}

TEST_F(UserDir, Clause3_RootOwnedDirectoryWithExtraEntryNotHandedOver)
{
    dir_make(dir_, 0700, 0, 0);
    acl_text_set(dir_, "u::rwx,u:54399:rwx,g::---,m::rwx,o::---");
    expect_refused_untouched("acl-overgrant", snapshot_of(dir_));
}

// ---------------------------------------------------------------------------
// root_dir_ensure

class RootDir : public tgtest::RootTree {
protected:
    RootDir() : RootTree("they create and chown directories under /var/lib") {}
};

TEST_F(RootDir, MissingComponentsCreatedRoot0755EvenWithUmask077)
{
    tg::Result<tg::UniqueFd> r = tg::UniqueFd();
    {
        UmaskScope scope(077);
        r = tg::root_dir_ensure(at("a/b/c"));
    }
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_TRUE(fd_is_inode_at(r->get(), at("a/b/c")));
    for (const char* rel : {"a", "a/b", "a/b/c"}) {
        const struct stat st = lstat_of(at(rel));
        EXPECT_TRUE(S_ISDIR(st.st_mode)) << rel;
        EXPECT_EQ(st.st_uid, 0u) << rel;
        EXPECT_EQ(st.st_mode & 07777, 0755u) << rel << " " << std::oct << st.st_mode;
    }
}

TEST_F(RootDir, ExistingTrustedPathReturnedUnchanged)
{
    dir_make(at("a"), 0711);
    const Snapshot before = snapshot_of(at("a"));
    auto r = tg::root_dir_ensure(at("a"));
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_TRUE(fd_is_inode_at(r->get(), at("a")));
    EXPECT_EQ(snapshot_of(at("a")), before);
}

TEST_F(RootDir, SlashItselfAccepted)
{
    auto r = tg::root_dir_ensure("/");
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_TRUE(fd_is_inode_at(r->get(), "/"));
}

TEST_F(RootDir, GroupWritableComponentRefusedAndNothingCreatedBelow)
{
    dir_make(at("a"), 0775);
    expect_refused(tg::root_dir_ensure(at("a/b")), "path-unsafe-dir", at("a"));
    EXPECT_FALSE(path_exists(at("a/b")));
}

TEST_F(RootDir, OtherWritableStickyComponentRefused)
{
    dir_make(at("a"), 01777);
    expect_refused(tg::root_dir_ensure(at("a/b")), "path-unsafe-dir", at("a"));
    EXPECT_FALSE(path_exists(at("a/b")));
}

TEST_F(RootDir, GroupWritableLastComponentRefused)
{
    dir_make(at("a"), 0775);
    expect_refused(tg::root_dir_ensure(at("a")), "path-unsafe-dir", at("a"));
    EXPECT_EQ(lstat_of(at("a")).st_mode & 07777, 0775u);
}

TEST_F(RootDir, NamedUserWriteAclOnComponentRefused)
{
    dir_make(at("a"), 0755);
    acl_text_set(at("a"), "u::rwx,u:54399:rwx,g::r-x,m::rwx,o::r-x");
    expect_refused(tg::root_dir_ensure(at("a/b")), "path-unsafe-dir", at("a"));
    EXPECT_FALSE(path_exists(at("a/b")));
}

TEST_F(RootDir, Clause3_SymlinkComponentRefusedAndNothingCreatedThroughIt)
{
    dir_make(at("real"), 0755);
    ASSERT_EQ(::symlink(at("real").c_str(), at("link").c_str()), 0);
    expect_refused(tg::root_dir_ensure(at("link/b")), "path-symlink", at("link"));
    EXPECT_FALSE(path_exists(at("real/b")));
}

TEST_F(RootDir, Clause3_SymlinkAsLastComponentRefused)
{
    dir_make(at("real"), 0755);
    ASSERT_EQ(::symlink(at("real").c_str(), at("link").c_str()), 0);
    expect_refused(tg::root_dir_ensure(at("link")), "path-symlink", at("link"));
}

TEST_F(RootDir, NonRootOwnedComponentRefusedAndNothingCreatedBelow)
{
    dir_make(at("a"), 0755, kUser, kUserGroup);
    expect_refused(tg::root_dir_ensure(at("a/b")), "path-unsafe-dir", at("a"));
    EXPECT_FALSE(path_exists(at("a/b")));
    EXPECT_EQ(lstat_of(at("a")).st_uid, kUser);
}

TEST_F(RootDir, RegularFileComponentRefused)
{
    file_make(at("f"), 0644);
    expect_refused(tg::root_dir_ensure(at("f/b")), "path-unsafe-dir", at("f"));
}

TEST_F(RootDir, RelativeOrUncleanPathsRefusedBeforeAnythingIsCreated)
{
    for (const std::string& path :
         {std::string(), std::string("var/lib"), at("a/../b"), at("a/./b"), at("a//b"), at("a/"),
          at("a/."), at("a/.."), at("a b"), at("a\nb")}) {
        SCOPED_TRACE(path);
        expect_refused(tg::root_dir_ensure(path), "path-invalid");
    }
    EXPECT_FALSE(path_exists(at("a")));
    EXPECT_FALSE(path_exists(at("b")));
}

// ---------------------------------------------------------------------------
// runtime_user_dir_path

TEST(RuntimeUserDirPath, JoinsRuntimeAndUid)
{
    EXPECT_EQ(tg::runtime_user_dir_path("/run/tmuxguard", 1000), "/run/tmuxguard/1000");
    EXPECT_EQ(tg::runtime_user_dir_path("/run/tmuxguard", 0), "/run/tmuxguard/0");
    EXPECT_EQ(tg::runtime_user_dir_path("/run/tmuxguard", 4294967294u), "/run/tmuxguard/4294967294");
}

TEST(RuntimeUserDirPath, TrailingSlashesDropped)
{
    EXPECT_EQ(tg::runtime_user_dir_path("/run/tmuxguard/", 1000), "/run/tmuxguard/1000");
    EXPECT_EQ(tg::runtime_user_dir_path("/run/tmuxguard///", 1000), "/run/tmuxguard/1000");
    EXPECT_EQ(tg::runtime_user_dir_path("/", 5), "/5");
    EXPECT_EQ(tg::runtime_user_dir_path("///", 5), "/5");
}

// ---------------------------------------------------------------------------
// gate_gid_of_wrapper

// ROOT/bin (root 0755) / tmuxguard-attach.
class GateWrapper : public tgtest::RootTree {
protected:
    GateWrapper() : RootTree("they install a setgid file with another group") {}
    void SetUp() override
    {
        RootTree::SetUp();
        if (HasFatalFailure())
            return;
        dir_make(at("bin"), 0755);
        path_ = at("bin/tmuxguard-attach");
    }
    void wrapper_make(mode_t mode, uid_t uid, gid_t gid) const
    {
        file_make(path_, mode, uid, gid);
    }
    std::string path_;
};

TEST_F(GateWrapper, RootOwnedSetgid2755GivesItsGroup)
{
    wrapper_make(02755, 0, kGate);
    auto gid = tg::gate_gid_of_wrapper(path_);
    ASSERT_TRUE(gid.has_value()) << gid.error().message();
    EXPECT_EQ(*gid, kGate);
}

TEST_F(GateWrapper, WrongModesRefused)
{
    for (mode_t mode : {mode_t{0755}, mode_t{04755}, mode_t{06755}, mode_t{02775}, mode_t{02757},
                        mode_t{02711}, mode_t{03755}}) {
        SCOPED_TRACE(mode);
        ASSERT_NO_FATAL_FAILURE(wrapper_make(mode, 0, kGate));
        expect_refused(tg::gate_gid_of_wrapper(path_), "gate-unknown");
        ASSERT_EQ(::unlink(path_.c_str()), 0);
    }
}

TEST_F(GateWrapper, GroupRootRefused)
{
    wrapper_make(02755, 0, 0);
    expect_refused(tg::gate_gid_of_wrapper(path_), "gate-unknown");
}

TEST_F(GateWrapper, NonRootOwnerRefused)
{
    wrapper_make(02755, kUser, kGate);
    expect_refused(tg::gate_gid_of_wrapper(path_), "gate-unknown");
}

TEST_F(GateWrapper, SymlinkToAGoodWrapperRefused)
{
    file_make(at("bin/real"), 02755, 0, kGate);
    ASSERT_EQ(::symlink(at("bin/real").c_str(), path_.c_str()), 0);
    expect_refused(tg::gate_gid_of_wrapper(path_), "gate-unknown");
}

TEST_F(GateWrapper, UntrustedParentRefused)
{
    owner_mode_set(at("bin"), 0775, 0, 0);
    wrapper_make(02755, 0, kGate);
    expect_refused(tg::gate_gid_of_wrapper(path_), "gate-unknown");
}

TEST_F(GateWrapper, DirectoryRefused)
{
    dir_make(path_, 02755, 0, kGate);
    expect_refused(tg::gate_gid_of_wrapper(path_), "gate-unknown");
}

TEST_F(GateWrapper, MissingRefused)
{
    expect_refused(tg::gate_gid_of_wrapper(path_), "gate-unknown");
}

}  // namespace
