// ACL judgement (a table over entry vectors) and ACLs on real inodes
// (acl.hpp). Test names give the clause of acl.hpp's contract they prove.
// Needs root: inodes owned by arbitrary numeric uids, children that drop to
// chosen uids and groups (no accounts needed).
#include <gtest/gtest.h>

#include <acl/libacl.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/acl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tmuxguard/acl.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "support.hpp"

namespace {

using tg::AclEntry;
using tg::AclTag;
using tgtest::fd_number_closed;
using tgtest::path_open;

constexpr uid_t kOwner = 4242424;
constexpr uid_t kStranger = 4242427;
constexpr gid_t kOwnerGroup = 4242424;
constexpr gid_t kGate = 4242400;
constexpr gid_t kOtherGroup = 4242401;

AclEntry user_obj(std::uint8_t p) { return {AclTag::user_obj, 0, p}; }
AclEntry named_user(std::uint32_t id, std::uint8_t p) { return {AclTag::user, id, p}; }
AclEntry group_obj(std::uint8_t p) { return {AclTag::group_obj, 0, p}; }
AclEntry named_group(std::uint32_t id, std::uint8_t p) { return {AclTag::group, id, p}; }
AclEntry mask(std::uint8_t p) { return {AclTag::mask, 0, p}; }
AclEntry other(std::uint8_t p) { return {AclTag::other, 0, p}; }

// The ACL acl_apply_socket() writes, with extra entries spliced in before the mask.
std::vector<AclEntry> contract_acl(std::vector<AclEntry> extra = {}, std::uint8_t m = 6,
                                   std::uint8_t o = 0)
{
    std::vector<AclEntry> acl = {user_obj(6), group_obj(0), named_group(kGate, 6)};
    acl.insert(acl.end(), extra.begin(), extra.end());
    acl.push_back(mask(m));
    acl.push_back(other(o));
    return acl;
}

struct JudgeCase {
    const char* name;
    std::vector<AclEntry> acl;
    gid_t socket_gid;
    const char* reason;   // "" = accepted
    const char* subject;  // checked when reason is not ""
};

TEST(SocketAclJudge, Clauses2to4_Table)
{
    const std::vector<JudgeCase> cases = {
        {"the contract ACL", contract_acl(), kOwnerGroup, "", ""},
        {"x bits everywhere (tmux toggles them)",
         {user_obj(7), group_obj(1), named_group(kGate, 7), mask(7), other(1)}, kOwnerGroup, "", ""},
        {"owning group is the gate, no extended ACL", {user_obj(6), group_obj(6), other(0)}, kGate,
         "", ""},
        {"plain 0600: no gate", {user_obj(6), group_obj(0), other(0)}, kOwnerGroup,
         "acl-gate-missing", "group:4242400:rw-"},
        {"other r", contract_acl({}, 6, 4), kOwnerGroup, "socket-mode-unsafe", "other::r--"},
        {"other w", contract_acl({}, 6, 2), kOwnerGroup, "socket-mode-unsafe", "other::-w-"},
        {"other x only", contract_acl({}, 6, 1), kOwnerGroup, "", ""},
        {"other rw is not masked", contract_acl({}, 0, 6), kOwnerGroup, "socket-mode-unsafe",
         "other::rw-"},
        {"owning group rw", {user_obj(6), group_obj(6), named_group(kGate, 6), mask(6), other(0)},
         kOwnerGroup, "socket-mode-unsafe", "group::rw-"},
        {"owning group rw masked away (so is the gate)",
         {user_obj(6), group_obj(6), named_group(kGate, 6), mask(1), other(0)}, kOwnerGroup,
         "acl-gate-missing", "group:4242400:rw-"},
        {"named user rw", contract_acl({named_user(kStranger, 6)}), kOwnerGroup, "acl-overgrant",
         "user:4242427:rw-"},
        {"named user r", contract_acl({named_user(kStranger, 4)}), kOwnerGroup, "acl-overgrant",
         "user:4242427:r--"},
        {"named user x only", contract_acl({named_user(kStranger, 1)}), kOwnerGroup, "", ""},
        {"named user is the owner", contract_acl({named_user(kOwner, 6)}), kOwnerGroup, "", ""},
        {"named user rw under mask ---: masked, so the gate is what is missing",
         contract_acl({named_user(kStranger, 6)}, 0), kOwnerGroup, "acl-gate-missing",
         "group:4242400:rw-"},
        {"named user rw, no mask entry",
         {user_obj(6), named_user(kStranger, 6), group_obj(0), named_group(kGate, 6), other(0)},
         kOwnerGroup, "acl-overgrant", "user:4242427:rw-"},
        {"named group rw", contract_acl({named_group(kOtherGroup, 6)}), kOwnerGroup,
         "acl-overgrant", "group:4242401:rw-"},
        {"named group w", contract_acl({named_group(kOtherGroup, 2)}), kOwnerGroup,
         "acl-overgrant", "group:4242401:-w-"},
        {"named group x only", contract_acl({named_group(kOtherGroup, 1)}), kOwnerGroup, "", ""},
        {"gate r only", {user_obj(6), group_obj(0), named_group(kGate, 4), mask(6), other(0)},
         kOwnerGroup, "acl-gate-missing", "group:4242400:rw-"},
        {"gate w only", {user_obj(6), group_obj(0), named_group(kGate, 2), mask(6), other(0)},
         kOwnerGroup, "acl-gate-missing", "group:4242400:rw-"},
        {"gate rw, mask r", contract_acl({}, 4), kOwnerGroup, "acl-gate-missing",
         "group:4242400:rw-"},
        {"empty list fails closed", {}, kOwnerGroup, "acl-gate-missing", "group:4242400:rw-"},
        {"mode bits judged before named entries",
         contract_acl({named_user(kStranger, 6)}, 6, 6), kOwnerGroup, "socket-mode-unsafe",
         "other::rw-"},
        {"two masks read as their union",
         {user_obj(6), named_user(kStranger, 6), group_obj(0), named_group(kGate, 6), mask(0),
          mask(6), other(0)},
         kOwnerGroup, "acl-overgrant", "user:4242427:rw-"},
    };
    for (const JudgeCase& c : cases) {
        SCOPED_TRACE(c.name);
        auto r = tg::socket_acl_judge(c.acl, kOwner, c.socket_gid, kGate);
        if (std::string(c.reason).empty()) {
            EXPECT_TRUE(r.has_value()) << r.error().message();
            continue;
        }
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().reason, c.reason) << r.error().message();
        EXPECT_EQ(r.error().subject, c.subject) << r.error().message();
    }
}

// "user::rw-"-style texts, so a mismatch prints readably.
std::vector<std::string> acl_texts(const std::vector<AclEntry>& acl)
{
    static constexpr const char* kNames[] = {"user", "user", "group", "group", "mask", "other"};
    std::vector<std::string> out;
    for (const AclEntry& e : acl) {
        std::string perms = "---";
        if (e.perms & 4)
            perms[0] = 'r';
        if (e.perms & 2)
            perms[1] = 'w';
        if (e.perms & 1)
            perms[2] = 'x';
        const bool named = e.tag == AclTag::user || e.tag == AclTag::group;
        out.push_back(std::string(kNames[static_cast<int>(e.tag)]) + ":" +
                      (named ? std::to_string(e.id) : "") + ":" + perms);
    }
    return out;
}

// Runs `fn` in a child that has become `uid` with primary group `gid` and
// exactly the supplementary `groups`; returns its exit status, 100 if the
// drop failed, -1 if it did not exit.
template <class Fn>
int run_as(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, Fn fn)
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(gid, gid, gid) != 0 ||
            ::setresuid(uid, uid, uid) != 0)
            ::_exit(100);
        ::_exit(fn());
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

// 0 if the call succeeded, else its errno.
int errno_of(int rc)
{
    return rc >= 0 ? 0 : errno;
}

// A root-owned 0755 temp dir under /var/lib, removed in TearDown.
class AclTree : public tgtest::RootTree {
protected:
    AclTree() : RootTree("chown, setresuid") {}

    // A file owned by kOwner:kOwnerGroup with `mode`.
    void file_make(const std::string& path, mode_t mode) const
    {
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
        ::close(fd);
        ASSERT_EQ(::chown(path.c_str(), kOwner, kOwnerGroup), 0);
        ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    }
};

TEST_F(AclTree, Clause1_FileWithoutExtendedAclYieldsItsModeBits)
{
    file_make(at("f"), 0640);
    tg::UniqueFd fd = path_open(at("f"));
    auto acl = tg::acl_read_fd(fd.get());
    ASSERT_TRUE(acl.has_value()) << acl.error().message();
    EXPECT_EQ(acl_texts(*acl), (std::vector<std::string>{"user::rw-", "group::r--", "other::---"}));
}

TEST_F(AclTree, Clause1_JudgesTheInodeBehindTheDescriptorNotThePath)
{
    file_make(at("good"), 0600);
    tg::UniqueFd good = path_open(at("good"));
    ASSERT_TRUE(tg::acl_apply_socket(good.get(), kGate).has_value());
    // Another inode with an overgrant replaces it at the same path.
    file_make(at("bad"), 0600);
    tg::UniqueFd bad = path_open(at("bad"));
    ASSERT_TRUE(tg::acl_apply_socket(bad.get(), kGate).has_value());
    ASSERT_EQ(::chmod(at("bad").c_str(), 0666), 0);
    ASSERT_EQ(::rename(at("bad").c_str(), at("good").c_str()), 0);

    auto held = tg::socket_acl_check(good.get(), kOwner, kOwnerGroup, kGate);
    EXPECT_TRUE(held.has_value()) << held.error().message();
    tg::UniqueFd fresh = path_open(at("good"));
    auto now = tg::socket_acl_check(fresh.get(), kOwner, kOwnerGroup, kGate);
    ASSERT_FALSE(now.has_value());
    EXPECT_EQ(now.error().reason, "socket-mode-unsafe");
}

TEST_F(AclTree, Clause5_UnreadableAclIsARefusal)
{
    const int closed = fd_number_closed();
    auto r = tg::socket_acl_check(closed, kOwner, kOwnerGroup, kGate);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason, "acl-read-failed") << r.error().message();
}

TEST_F(AclTree, ApplySocketWritesTheContractAcl)
{
    file_make(at("s"), 0600);
    tg::UniqueFd fd = path_open(at("s"));
    auto ok = tg::acl_apply_socket(fd.get(), kGate);
    ASSERT_TRUE(ok.has_value()) << ok.error().message();
    auto acl = tg::acl_read_fd(fd.get());
    ASSERT_TRUE(acl.has_value()) << acl.error().message();
    EXPECT_EQ(acl_texts(*acl), (std::vector<std::string>{"user::rw-", "group::---",
                                                         "group:4242400:rw-", "mask::rw-",
                                                         "other::---"}));
    EXPECT_TRUE(tg::socket_acl_check(fd.get(), kOwner, kOwnerGroup, kGate).has_value());
}

TEST_F(AclTree, ApplySocketLetsOnlyTheGateGroupConnect)
{
    const std::string path = at("sock");
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    tg::UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener.get(), 8), 0);
    ASSERT_EQ(::chown(path.c_str(), kOwner, kOwnerGroup), 0);
    tg::UniqueFd fd = path_open(path);
    ASSERT_TRUE(tg::acl_apply_socket(fd.get(), kGate).has_value());

    auto connect_errno = [&addr] {
        tg::UniqueFd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        return errno_of(::connect(c.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr));
    };
    EXPECT_EQ(run_as(kStranger, kGate, {kGate}, connect_errno), 0);
    EXPECT_EQ(run_as(kStranger, kOtherGroup, {}, connect_errno), EACCES);
}

TEST_F(AclTree, ApplyRuntimeDirWritesTheContractAcl)
{
    ASSERT_EQ(::mkdir(at("rt").c_str(), 0700), 0);
    ASSERT_EQ(::chown(at("rt").c_str(), kOwner, kOwnerGroup), 0);
    tg::UniqueFd fd = path_open(at("rt"));
    auto ok = tg::acl_apply_runtime_dir(fd.get(), kGate);
    ASSERT_TRUE(ok.has_value()) << ok.error().message();
    auto acl = tg::acl_read_fd(fd.get());
    ASSERT_TRUE(acl.has_value()) << acl.error().message();
    EXPECT_EQ(acl_texts(*acl), (std::vector<std::string>{"user::rwx", "group::---",
                                                         "group:4242400:--x", "mask::--x",
                                                         "other::---"}));
}

TEST_F(AclTree, ApplyRuntimeDirLetsTheGateSearchButNotList)
{
    ASSERT_EQ(::mkdir(at("rt").c_str(), 0700), 0);
    ASSERT_EQ(::chown(at("rt").c_str(), kOwner, kOwnerGroup), 0);
    file_make(at("rt/probe"), 0600);
    tg::UniqueFd fd = path_open(at("rt"));
    ASSERT_TRUE(tg::acl_apply_runtime_dir(fd.get(), kGate).has_value());

    const std::string dir = at("rt");
    const std::string probe = at("rt/probe");
    auto search = [&probe] {
        struct stat st {};
        return errno_of(::stat(probe.c_str(), &st));
    };
    auto list = [&dir] {
        return errno_of(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    };
    EXPECT_EQ(run_as(kStranger, kGate, {kGate}, search), 0);
    EXPECT_EQ(run_as(kStranger, kGate, {kGate}, list), EACCES);
    EXPECT_EQ(run_as(kStranger, kOtherGroup, {}, search), EACCES);
}

TEST_F(AclTree, ApplyOnABadDescriptorFails)
{
    const int closed = fd_number_closed();
    auto s = tg::acl_apply_socket(closed, kGate);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().reason, "acl-apply-failed");
    auto d = tg::acl_apply_runtime_dir(closed, kGate);
    ASSERT_FALSE(d.has_value());
    EXPECT_EQ(d.error().reason, "acl-apply-failed");
}

}  // namespace
