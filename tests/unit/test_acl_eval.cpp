// The ACL evaluator (acl_eval.hpp): a table per clause of its contract, then
// the same question put to the kernel. For a table of ACLs and a seeded
// random set, real files and directories get the ACL (libacl, as setfacl
// does), a child per caller drops to that uid and those groups and asks
// faccessat(); every answer must equal the evaluator's over the ACL read
// back with acl_read_fd(). Needs root: arbitrary numeric owners and callers.
#include <gtest/gtest.h>

#include <acl/libacl.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support.hpp"
#include "tmuxguard/acl.hpp"
#include "tmuxguard/acl_eval.hpp"

namespace {

using tg::AclAccess;
using tg::AclCaller;
using tg::AclEntry;
using tg::AclSubject;
using tg::AclTag;

AclEntry user_obj(std::uint8_t p) { return {AclTag::user_obj, 0, p}; }
AclEntry named_user(std::uint32_t id, std::uint8_t p) { return {AclTag::user, id, p}; }
AclEntry group_obj(std::uint8_t p) { return {AclTag::group_obj, 0, p}; }
AclEntry named_group(std::uint32_t id, std::uint8_t p) { return {AclTag::group, id, p}; }
AclEntry mask(std::uint8_t p) { return {AclTag::mask, 0, p}; }
AclEntry other(std::uint8_t p) { return {AclTag::other, 0, p}; }

constexpr std::uint8_t R = tg::kAclRead;
constexpr std::uint8_t W = tg::kAclWrite;
constexpr std::uint8_t X = tg::kAclExec;

// Owner and owning group of every inode in the pure tables.
constexpr uid_t kOwner = 100;
constexpr gid_t kGroup = 200;

struct EvalCase {
    const char* name;
    std::vector<AclEntry> acl;
    AclCaller who;
    std::uint8_t want;
    AclAccess expect;
};

// "rwx" text of a want, for messages.
std::string perms_text(std::uint8_t p)
{
    std::string s = "---";
    if (p & R)
        s[0] = 'r';
    if (p & W)
        s[1] = 'w';
    if (p & X)
        s[2] = 'x';
    return s;
}

// "user::rw-,user:101:r--,..." for messages.
std::string acl_text(const std::vector<AclEntry>& acl)
{
    std::string out;
    for (const AclEntry& e : acl) {
        static const char* const kTag[] = {"user:", "user:", "group:", "group:", "mask:", "other:"};
        const bool named = e.tag == AclTag::user || e.tag == AclTag::group;
        out += (out.empty() ? "" : ",") + std::string(kTag[static_cast<int>(e.tag)]) +
               (named ? std::to_string(e.id) : "") + ":" + perms_text(e.perms);
    }
    return out;
}

// Runs a table against acl_access_check, entries in the given order and
// reversed (clause 8).
void eval_table_check(const std::vector<EvalCase>& cases)
{
    for (const EvalCase& c : cases) {
        AclSubject s{kOwner, kGroup, c.acl};
        EXPECT_EQ(tg::acl_access_check(s, c.who, c.want), c.expect) << c.name;
        std::reverse(s.acl.begin(), s.acl.end());
        EXPECT_EQ(tg::acl_access_check(s, c.who, c.want), c.expect) << c.name << " (reversed)";
    }
}

TEST(AclEval, Clause1_EmptyWantIsGrantedAndExtraBitsIgnored)
{
    eval_table_check({
        {"want nothing of ---", {user_obj(0), group_obj(0), other(0)}, {7, {}}, 0, AclAccess::granted},
        {"bit 8 ignored", {user_obj(0), group_obj(0), other(R)}, {7, {}}, 8 | R, AclAccess::granted},
    });
}

TEST(AclEval, Clause2_OwnerEntryDecidesAloneAndUnmasked)
{
    eval_table_check({
        {"owner --- despite group and other rwx", {user_obj(0), group_obj(7), other(7)},
         {kOwner, {kGroup}}, R, AclAccess::denied},
        {"owner rw- with mask ---", {user_obj(R | W), group_obj(0), named_user(5, 7), mask(0), other(0)},
         {kOwner, {}}, R | W, AclAccess::granted},
        {"owner's own named entry is never reached",
         {user_obj(0), named_user(kOwner, 7), group_obj(0), mask(7), other(0)}, {kOwner, {}}, W,
         AclAccess::denied},
        {"owner r-- asked rw", {user_obj(R), group_obj(7), other(7)}, {kOwner, {}}, R | W,
         AclAccess::denied},
    });
}

TEST(AclEval, Clause3_NamedUserIsMaskedAndEndsTheSearch)
{
    const std::vector<AclEntry> acl = {user_obj(0), named_user(101, R | W), group_obj(7), mask(R),
                                       other(7)};
    eval_table_check({
        {"named rw- masked to r--: w denied", acl, {101, {kGroup}}, W, AclAccess::denied},
        {"named rw- masked to r--: r granted", acl, {101, {kGroup}}, R, AclAccess::granted},
        {"named --- beats group and other", {user_obj(0), named_user(101, 0), group_obj(7), mask(7), other(7)},
         {101, {kGroup}}, R, AclAccess::denied},
        {"another uid falls through to other", acl, {102, {}}, W, AclAccess::granted},
    });
}

TEST(AclEval, Clause4_GroupClassAnyGrantingEntryWinsMatchedNoneDenies)
{
    const std::vector<AclEntry> acl = {user_obj(0), group_obj(R), named_group(201, W),
                                       named_group(202, 0), mask(7), other(7)};
    eval_table_check({
        {"owning group grants r", acl, {102, {kGroup}}, R, AclAccess::granted},
        {"named group 201 grants w", acl, {102, {kGroup, 201}}, W, AclAccess::granted},
        {"no single entry grants rw: denied, other not asked", acl, {102, {kGroup, 201}}, R | W,
         AclAccess::denied},
        {"matched 202 only, grants nothing: denied although other rwx", acl, {102, {202}}, R,
         AclAccess::denied},
        {"owning group masked", {user_obj(0), group_obj(R | W), named_group(5, 0), mask(R), other(7)},
         {102, {kGroup}}, W, AclAccess::denied},
        {"named group masked", {user_obj(0), group_obj(0), named_group(201, 7), mask(X), other(0)},
         {102, {201}}, X, AclAccess::granted},
        {"gid listed twice by the caller", acl, {102, {201, 201}}, W, AclAccess::granted},
    });
}

TEST(AclEval, Clause5_OtherDecidesUnmasked)
{
    eval_table_check({
        {"other rw- under mask ---", {user_obj(0), named_user(5, 0), group_obj(0), mask(0), other(R | W)},
         {102, {300}}, R | W, AclAccess::granted},
        {"other r-- asked w", {user_obj(7), group_obj(7), other(R)}, {102, {}}, W, AclAccess::denied},
    });
}

TEST(AclEval, Clause5a_MaskOfNothingHandsEveryoneButTheGroupToOther)
{
    const std::vector<AclEntry> acl = {user_obj(0), named_user(101, 7), group_obj(7),
                                       named_group(201, 7), mask(0), other(R | W)};
    eval_table_check({
        {"named user --- under mask ---: other's rw-",
         {user_obj(0), named_user(101, 0), group_obj(0), mask(0), other(R | W)}, {101, {}}, W,
         AclAccess::granted},
        {"named user rwx under mask ---: other's rw-, no x", acl, {101, {}}, X, AclAccess::denied},
        {"named group under mask ---: other's rw-", acl, {102, {201}}, R | W, AclAccess::granted},
        {"owning group under mask ---: nothing", acl, {102, {kGroup}}, R, AclAccess::denied},
        {"owning group under mask ---: nothing asked, granted", acl, {102, {kGroup}}, 0,
         AclAccess::granted},
        {"mask --x is not nothing: the ACL decides", {user_obj(0), named_user(101, 0), group_obj(0), mask(X), other(7)},
         {101, {}}, R, AclAccess::denied},
    });
}

TEST(AclEval, Clause6_NoMaskMasksNothing)
{
    eval_table_check({
        {"minimal ACL, group rw", {user_obj(0), group_obj(R | W), other(0)}, {102, {kGroup}}, R | W,
         AclAccess::granted},
        {"mask without named entries masks the owning group",
         {user_obj(7), group_obj(R | W), mask(R), other(0)}, {102, {kGroup}}, W, AclAccess::denied},
    });
}

TEST(AclEval, Clause7_MalformedAclsGrantNothing)
{
    const AclCaller anyone{102, {kGroup, 201}};
    const std::vector<std::pair<const char*, std::vector<AclEntry>>> bad = {
        {"empty", {}},
        {"no other", {user_obj(7), group_obj(7)}},
        {"two user_obj", {user_obj(7), user_obj(7), group_obj(7), other(7)}},
        {"two masks", {user_obj(7), named_user(102, 7), group_obj(7), mask(7), mask(7), other(7)}},
        {"named user without mask", {user_obj(7), named_user(102, 7), group_obj(7), other(7)}},
        {"named group without mask", {user_obj(7), group_obj(7), named_group(201, 7), other(7)}},
        {"same user twice", {user_obj(7), named_user(102, 7), named_user(102, 7), group_obj(7), mask(7), other(7)}},
        {"same group twice", {user_obj(7), group_obj(7), named_group(201, 7), named_group(201, 7), mask(7), other(7)}},
        {"bit 8 in an entry", {user_obj(7), group_obj(7), {AclTag::other, 0, 8 | 7}}},
    };
    for (const auto& [name, acl] : bad) {
        EXPECT_FALSE(tg::acl_shape_valid(acl)) << name;
        EXPECT_EQ(tg::acl_access_check({kOwner, kGroup, acl}, anyone, 0), AclAccess::malformed) << name;
        EXPECT_EQ(tg::acl_access_check({kOwner, kGroup, acl}, anyone, R), AclAccess::malformed) << name;
    }
    EXPECT_TRUE(tg::acl_shape_valid(std::vector<AclEntry>{user_obj(0), group_obj(0), mask(0), other(0)}));
}

TEST(AclEval, Clause9_UidZeroIsJudgedWithoutCapabilities)
{
    eval_table_check({
        {"uid 0 is other here", {user_obj(7), group_obj(7), other(0)}, {0, {0}}, R, AclAccess::denied},
        {"uid 0 may be named", {user_obj(0), named_user(0, X), group_obj(0), mask(7), other(0)},
         {0, {0}}, X, AclAccess::granted},
    });
}

// ---------------------------------------------------------------- against the kernel

// Ids for real inodes and callers: numbers no account uses.
constexpr uid_t kKOwner = 4243000;
constexpr gid_t kKGroup = 4243100;
const std::vector<uid_t> kUserPool = {kKOwner, 4243001, 4243002, 4243003};
const std::vector<gid_t> kGroupPool = {kKGroup, 4243101, 4243102, 4243103};

// Every caller asks every object: the owner (with and without its group),
// named and unnamed users, with every mix of the pooled groups.
std::vector<AclCaller> kernel_callers()
{
    return {
        {kKOwner, {kKGroup}},
        {kKOwner, {4243101}},
        {4243001, {4243099}},
        {4243001, {kKGroup}},
        {4243002, {4243101, 4243102}},
        {4243003, {kKGroup, 4243101, 4243103}},
        {4243004, {4243102}},
        {4243005, {kKGroup, 4243103}},
        {4243006, {4243099}},
    };
}

// Sets the access ACL of `path` to exactly `acl` with libacl (numeric
// qualifiers, no name lookups); false when libacl or the kernel refuses.
bool acl_set_path(const std::string& path, const std::vector<AclEntry>& acl)
{
    acl_t a = acl_init(static_cast<int>(acl.size()));
    bool ok = a != nullptr;
    for (const AclEntry& e : acl) {
        static const acl_tag_t kLib[] = {ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ,
                                         ACL_GROUP,    ACL_MASK, ACL_OTHER};
        acl_entry_t entry = nullptr;
        acl_permset_t ps = nullptr;
        const id_t id = e.id;
        ok = ok && acl_create_entry(&a, &entry) == 0 &&
             acl_set_tag_type(entry, kLib[static_cast<int>(e.tag)]) == 0 &&
             ((e.tag != AclTag::user && e.tag != AclTag::group) || acl_set_qualifier(entry, &id) == 0) &&
             acl_get_permset(entry, &ps) == 0 && acl_clear_perms(ps) == 0 &&
             (!(e.perms & R) || acl_add_perm(ps, ACL_READ) == 0) &&
             (!(e.perms & W) || acl_add_perm(ps, ACL_WRITE) == 0) &&
             (!(e.perms & X) || acl_add_perm(ps, ACL_EXECUTE) == 0) && acl_set_permset(entry, ps) == 0;
    }
    ok = ok && acl_valid(a) == 0 && acl_set_file(path.c_str(), ACL_TYPE_ACCESS, a) == 0;
    if (a != nullptr)
        acl_free(a);
    return ok;
}

// A random ACL of the shape the kernel stores, over the pooled ids (the
// owner and the owning group may appear as named entries too).
std::vector<AclEntry> acl_random(std::mt19937& rng)
{
    auto perms = [&] { return static_cast<std::uint8_t>(rng() % 8); };
    std::vector<AclEntry> acl = {user_obj(perms())};
    for (uid_t u : kUserPool) {
        if (rng() % 3 == 0)
            acl.push_back(named_user(u, perms()));
    }
    acl.push_back(group_obj(perms()));
    for (gid_t g : kGroupPool) {
        if (rng() % 3 == 0)
            acl.push_back(named_group(g, perms()));
    }
    if (acl.size() > 2 || rng() % 2 == 0)
        acl.push_back(mask(perms()));
    acl.push_back(other(perms()));
    return acl;
}

// Root-owned 0755 scratch directory; objects in it are files and directories.
class AclEvalKernel : public tgtest::RootTree {
protected:
    AclEvalKernel() : RootTree("inodes of arbitrary uids, children dropping to them") {}

    // Creates object `i` (a directory when i % 3 == 2) owned by the pooled
    // owner and group, with `acl`; returns its path ("" on failure, with a
    // test failure recorded).
    std::string object_make(std::size_t i, const std::vector<AclEntry>& acl)
    {
        const std::string path = at("o" + std::to_string(i));
        const bool dir = i % 3 == 2;
        int rc = dir ? ::mkdir(path.c_str(), 0700) : ::close(::open(path.c_str(), O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0600));
        EXPECT_EQ(rc, 0) << path << ": " << std::strerror(errno);
        EXPECT_EQ(::chown(path.c_str(), kKOwner, kKGroup), 0) << path;
        EXPECT_TRUE(acl_set_path(path, acl)) << path << ": " << acl_text(acl) << ": " << std::strerror(errno);
        return path;
    }

    // What faccessat() says, for `who`, of every path and want: one byte
    // per (path, want), '1' granted, '0' denied, from a child that became
    // `who` (groups, gid, uid; no capabilities left).
    std::string kernel_answers(const AclCaller& who, const std::vector<std::string>& paths,
                               const std::vector<std::uint8_t>& wants)
    {
        int p[2];
        EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(p[0]);
            if (::setgroups(who.gids.size(), who.gids.data()) != 0 ||
                ::setresgid(who.gids[0], who.gids[0], who.gids[0]) != 0 ||
                ::setresuid(who.uid, who.uid, who.uid) != 0)
                ::_exit(10);
            std::string out;
            for (const std::string& path : paths) {
                for (std::uint8_t w : wants) {
                    const int mode = ((w & R) ? R_OK : 0) | ((w & W) ? W_OK : 0) | ((w & X) ? X_OK : 0);
                    out += ::faccessat(AT_FDCWD, path.c_str(), mode, 0) == 0 ? '1' : '0';
                }
            }
            const bool written = ::write(p[1], out.data(), out.size()) == static_cast<ssize_t>(out.size());
            ::_exit(written ? 0 : 11);
        }
        ::close(p[1]);
        std::string got;
        char buf[4096];
        for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;)
            got.append(buf, static_cast<std::size_t>(n));
        ::close(p[0]);
        int st = 0;
        EXPECT_EQ(::waitpid(pid, &st, 0), pid);
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child for uid " << who.uid << " status " << st;
        return got;
    }

    // Makes an object per ACL, asks the kernel for every caller and want,
    // and compares with the evaluator over the ACL read back by acl_read_fd.
    void kernel_compare(const std::vector<std::vector<AclEntry>>& acls)
    {
        const std::vector<std::uint8_t> wants = {R, W, X, R | W, R | X, W | X, R | W | X};
        std::vector<std::string> paths;
        std::vector<AclSubject> subjects;
        for (std::size_t i = 0; i < acls.size(); ++i) {
            paths.push_back(object_make(i, acls[i]));
            tg::UniqueFd fd = tgtest::path_open(paths.back());
            ASSERT_TRUE(fd.valid()) << paths.back();
            tg::Result<std::vector<AclEntry>> back = tg::acl_read_fd(fd.get());
            ASSERT_TRUE(back.has_value()) << back.error().message();
            subjects.push_back({kKOwner, kKGroup, *back});
        }
        ASSERT_FALSE(HasFailure());
        for (const AclCaller& who : kernel_callers()) {
            const std::string got = kernel_answers(who, paths, wants);
            ASSERT_EQ(got.size(), paths.size() * wants.size()) << "uid " << who.uid;
            for (std::size_t i = 0; i < paths.size(); ++i) {
                for (std::size_t w = 0; w < wants.size(); ++w) {
                    const AclAccess mine = tg::acl_access_check(subjects[i], who, wants[w]);
                    const AclAccess kernel = got[i * wants.size() + w] == '1' ? AclAccess::granted : AclAccess::denied;
                    EXPECT_EQ(mine, kernel) << acl_text(subjects[i].acl) << " uid " << who.uid
                                            << " gids[0] " << who.gids[0] << " want "
                                            << perms_text(wants[w]) << (i % 3 == 2 ? " (dir)" : "");
                }
            }
        }
    }
};

// One row per clause of the contract, on real inodes.
TEST_F(AclEvalKernel, Clauses2to6_TableMatchesFaccessat)
{
    ASSERT_NO_FATAL_FAILURE(kernel_compare({
        {user_obj(0), group_obj(7), other(7)},                                   // 2: owner alone
        {user_obj(R | W), named_user(4243001, 7), group_obj(0), mask(0), other(0)},  // 2: unmasked
        {user_obj(0), named_user(kKOwner, 7), group_obj(0), mask(7), other(0)},  // 2: own named entry
        {user_obj(0), named_user(4243001, R | W), group_obj(7), mask(R), other(7)},  // 3: masked
        {user_obj(0), named_user(4243002, 0), group_obj(7), mask(7), other(7)},  // 3: ends the search
        {user_obj(0), group_obj(R), named_group(4243101, W), named_group(4243102, 0), mask(7), other(7)},  // 4
        {user_obj(0), group_obj(R | W), named_group(4243103, 0), mask(R), other(7)},  // 4: masked
        {user_obj(0), group_obj(0), named_group(4243101, 7), mask(X), other(0)},  // 4: named masked
        {user_obj(0), named_user(4243001, 0), group_obj(0), mask(0), other(R | W | X)},  // 5a
        {user_obj(0), named_user(4243001, 7), group_obj(7), named_group(4243101, 7), mask(0), other(R)},  // 5a
        {user_obj(0), named_user(4243001, 0), group_obj(0), mask(X), other(R | W | X)},  // 5: mask --x
        {user_obj(0), named_user(4243002, R), group_obj(0), mask(R | W), other(R | W | X)},  // 5
        {user_obj(7), group_obj(R | W), other(0)},                                // 6: no mask
        {user_obj(7), group_obj(R | W | X), mask(R), other(0)},                   // 6: mask only
        {user_obj(R | W), group_obj(0), named_group(4243101, R | W), mask(R | W), other(0)},  // a share socket
        {user_obj(7), group_obj(0), named_group(4243101, X), mask(X), other(0)},  // a runtime dir
    }));
}

// 400 random ACLs (fixed seed) against every caller and want.
TEST_F(AclEvalKernel, SeededRandomAclsMatchFaccessat)
{
    std::mt19937 rng(20261125);
    std::vector<std::vector<AclEntry>> acls;
    for (int i = 0; i < 400; ++i)
        acls.push_back(acl_random(rng));
    ASSERT_NO_FATAL_FAILURE(kernel_compare(acls));
}

}  // namespace
