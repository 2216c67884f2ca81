// Fuzz target: the ACL evaluator (acl_eval.hpp) and the wrapper's socket ACL
// judgement (acl.hpp), cross-checked against the kernel.
//
// Input bytes: owner and owning group; up to 9 entries (tag, qualifier,
// permission byte: bits above rwx make a malformed ACL); then the caller
// (uid, up to 4 gids) and the gate group. Every id comes from a pool of 8
// (0, 1, 2, 1000, 1001, 2000, 2001, 65534) so that entries and callers meet.
//
// Properties, pure:
//  E1 acl_access_check is "malformed" for every want exactly when
//     acl_shape_valid is false (clause 7), and want 0 is granted otherwise
//     (clause 1); bits above rwx in want change nothing (clause 1);
//  E2 entry order changes nothing (clause 8), reversed or rotated;
//  E3 a granted want grants each of its subsets;
//  E4 when socket_acl_judge accepts an ACL, no caller other than the owner
//     and the gate group's members gets r or w (acl.hpp clause 4), over
//     every pooled uid and gid.
// Properties against the kernel (needs root: a test never skips, so without
// root the target stops at start with a message):
//  K1 an ACL the evaluator calls well-formed, libacl and the kernel accept
//     (acl_set_fd on a real directory after fchown to the input's owner and
//     group);
//  K2 acl_read_fd reads back the same entries;
//  K3 for the input's caller, in a forked child that has exactly the
//     caller's ids and no capabilities, faccessat(AT_EACCESS) answers every
//     want 0-7 as acl_access_check does (a directory, so x is search and no
//     noexec mount gets in the way); one child per input, killed after 5 s;
//  K4 when socket_acl_judge accepts the ACL and the caller is neither the
//     owner nor in the gate group, the kernel grants it neither r nor w.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz.hpp"
#include "tmuxguard/acl.hpp"
#include "tmuxguard/acl_eval.hpp"

namespace {

using tg::AclAccess;
using tg::AclCaller;
using tg::AclEntry;
using tg::AclSubject;
using tg::AclTag;

constexpr std::uint32_t kIds[8] = {0, 1, 2, 1000, 1001, 2000, 2001, 65534};

// Reads bytes off the input; zeros once it is used up.
struct Bytes {
    const std::uint8_t* p;
    std::size_t n;
    std::uint8_t take()
    {
        if (n == 0)
            return 0;
        --n;
        return *p++;
    }
    std::uint32_t id() { return kIds[take() & 7]; }
};

struct Case {
    AclSubject subject;
    AclCaller caller;
    gid_t gate = 0;
};

Case case_read(const std::uint8_t* data, std::size_t size)
{
    Bytes in{data, size};
    Case c;
    std::uint8_t who = in.take();
    c.subject.owner = kIds[who & 7];
    c.subject.group = kIds[(who >> 3) & 7];
    std::size_t entries = in.take() % 10;
    for (std::size_t i = 0; i < entries; ++i) {
        AclEntry e{};
        e.tag = static_cast<AclTag>(in.take() % 6);
        e.id = in.id();
        e.perms = in.take();
        if (e.tag != AclTag::user && e.tag != AclTag::group)
            e.id = 0;
        c.subject.acl.push_back(e);
    }
    c.caller.uid = in.id();
    std::size_t gids = 1 + in.take() % 4;
    for (std::size_t i = 0; i < gids; ++i)
        c.caller.gids.push_back(in.id());
    c.gate = in.id();
    return c;
}

std::string acl_text(const Case& c)
{
    static const char* kTag[] = {"user_obj", "user", "group_obj", "group", "mask", "other"};
    std::string s = "owner " + std::to_string(c.subject.owner) + " group " +
                    std::to_string(c.subject.group) + " acl";
    for (const AclEntry& e : c.subject.acl)
        s += std::string(" ") + kTag[static_cast<int>(e.tag)] + ":" + std::to_string(e.id) + ":" +
             std::to_string(e.perms);
    s += " caller " + std::to_string(c.caller.uid) + " gids";
    for (gid_t g : c.caller.gids)
        s += " " + std::to_string(g);
    s += " gate " + std::to_string(c.gate);
    return s;
}

bool in_gate(const AclCaller& who, gid_t gate)
{
    return std::find(who.gids.begin(), who.gids.end(), gate) != who.gids.end();
}

// E1-E3 for one caller.
void pure_check(const Case& c, const AclCaller& who, const std::string& ctx)
{
    const bool valid = tg::acl_shape_valid(c.subject.acl);
    AclSubject reversed = c.subject;
    std::reverse(reversed.acl.begin(), reversed.acl.end());
    AclSubject rotated = c.subject;
    if (!rotated.acl.empty())
        std::rotate(rotated.acl.begin(), rotated.acl.begin() + 1, rotated.acl.end());
    AclAccess got[8];
    for (std::uint8_t want = 0; want < 8; ++want) {
        got[want] = tg::acl_access_check(c.subject, who, want);
        FUZZ_CHECK((got[want] == AclAccess::malformed) == !valid, ctx);
        FUZZ_CHECK(tg::acl_access_check(c.subject, who, static_cast<std::uint8_t>(want | 0xf8)) == got[want], ctx);
        FUZZ_CHECK(tg::acl_access_check(reversed, who, want) == got[want], ctx);
        FUZZ_CHECK(tg::acl_access_check(rotated, who, want) == got[want], ctx);
    }
    if (!valid)
        return;
    FUZZ_CHECK(got[0] == AclAccess::granted, ctx);
    for (std::uint8_t want = 0; want < 8; ++want)
        for (std::uint8_t sub = 0; sub < 8; ++sub)
            if ((sub & want) == sub && got[want] == AclAccess::granted)
                FUZZ_CHECK(got[sub] == AclAccess::granted, ctx);
}

// E4 over the pooled callers.
void judge_check(const Case& c, const std::string& ctx)
{
    if (!tg::acl_shape_valid(c.subject.acl))
        return;
    if (!tg::socket_acl_judge(c.subject.acl, c.subject.owner, c.subject.group, c.gate))
        return;
    for (std::uint32_t uid : kIds) {
        for (std::uint32_t gid : kIds) {
            AclCaller who{uid, {gid}};
            if (uid == c.subject.owner || in_gate(who, c.gate))
                continue;
            FUZZ_CHECK(tg::acl_access_check(c.subject, who, tg::kAclRead) == AclAccess::denied, ctx);
            FUZZ_CHECK(tg::acl_access_check(c.subject, who, tg::kAclWrite) == AclAccess::denied, ctx);
        }
    }
}

// ---- the kernel side ----------------------------------------------------

struct KernelObject {
    std::string dir;   // root 0755, made at start, removed at exit
    std::string path;  // dir/obj: the directory that gets each input's ACL
    int fd = -1;
};

KernelObject g_obj;

void kernel_object_remove()
{
    if (g_obj.fd >= 0)
        ::close(g_obj.fd);
    (void)::rmdir(g_obj.path.c_str());
    (void)::rmdir(g_obj.dir.c_str());
}

// The directory the kernel judges; the run stops here without root.
void kernel_object_make()
{
    if (::geteuid() != 0) {
        std::fprintf(stderr, "fuzz_acl_eval: must run as root: it applies ACLs to a real "
                             "directory and asks the kernel as other users (never skipped)\n");
        std::exit(1);
    }
    std::string tmpl = "/var/lib/tg-fuzz-acl." + std::to_string(::getpid()) + ".XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr || ::chmod(tmpl.c_str(), 0755) != 0) {
        std::perror("fuzz_acl_eval: mkdtemp under /var/lib");
        std::exit(1);
    }
    g_obj.dir = tmpl;
    g_obj.path = tmpl + "/obj";
    if (::mkdir(g_obj.path.c_str(), 0755) != 0 ||
        (g_obj.fd = ::open(g_obj.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        std::perror("fuzz_acl_eval: the test directory");
        std::exit(1);
    }
    std::atexit(kernel_object_remove);
}

// The entries through libacl onto the directory; false when libacl or the
// kernel refuses them.
bool kernel_acl_set(const std::vector<AclEntry>& entries)
{
    static const acl_tag_t kTag[] = {ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER};
    acl_t a = acl_init(static_cast<int>(entries.size()));
    bool ok = a != nullptr;
    for (const AclEntry& e : entries) {
        if (!ok)
            break;
        acl_entry_t entry = nullptr;
        acl_permset_t ps = nullptr;
        std::uint32_t id = e.id;
        ok = acl_create_entry(&a, &entry) == 0 && acl_set_tag_type(entry, kTag[static_cast<int>(e.tag)]) == 0 &&
             ((e.tag != AclTag::user && e.tag != AclTag::group) || acl_set_qualifier(entry, &id) == 0) &&
             acl_get_permset(entry, &ps) == 0 && acl_clear_perms(ps) == 0;
        // Bits libacl has no name for go in raw, so the kernel sees them too.
        if (ok) {
            if (e.perms & ~7)
                ok = acl_add_perm(ps, static_cast<acl_perm_t>(e.perms)) == 0;
            else
                ok = ((e.perms & 4) == 0 || acl_add_perm(ps, ACL_READ) == 0) &&
                     ((e.perms & 2) == 0 || acl_add_perm(ps, ACL_WRITE) == 0) &&
                     ((e.perms & 1) == 0 || acl_add_perm(ps, ACL_EXECUTE) == 0);
        }
        ok = ok && acl_set_permset(entry, ps) == 0;
    }
    ok = ok && acl_set_fd(g_obj.fd, a) == 0;
    if (a != nullptr)
        acl_free(a);
    return ok;
}

// Entries as comparable text, qualifiers only where they mean something.
std::vector<std::string> entries_sorted(const std::vector<AclEntry>& acl)
{
    std::vector<std::string> out;
    for (const AclEntry& e : acl) {
        bool named = e.tag == AclTag::user || e.tag == AclTag::group;
        out.push_back(std::to_string(static_cast<int>(e.tag)) + ":" + std::to_string(named ? e.id : 0) +
                      ":" + std::to_string(e.perms));
    }
    std::sort(out.begin(), out.end());
    return out;
}

// In a child with exactly the caller's ids and no capabilities: bit W of
// the byte the child sends back is set when faccessat grants want W; -1
// when the child could not take the ids or did not answer.
int kernel_answers(const AclCaller& who)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        ::alarm(5);
        std::vector<gid_t> gids(who.gids.begin(), who.gids.end());
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct none[2] = {};
        if (::setgroups(gids.size(), gids.data()) != 0 ||
            ::setresgid(gids[0], gids[0], gids[0]) != 0 ||
            ::setresuid(who.uid, who.uid, who.uid) != 0 || ::syscall(SYS_capset, &hdr, none) != 0)
            ::_exit(1);
        unsigned char bits = 0;
        for (int want = 0; want < 8; ++want)
            if (::faccessat(AT_FDCWD, g_obj.path.c_str(), want, AT_EACCESS) == 0)
                bits = static_cast<unsigned char>(bits | (1u << want));
        ::_exit(::write(fds[1], &bits, 1) == 1 ? 0 : 1);
    }
    ::close(fds[1]);
    unsigned char bits = 0;
    ssize_t got = 0;
    do {  // libFuzzer's -timeout is a SIGALRM every second
        got = ::read(fds[0], &bits, 1);
    } while (got < 0 && errno == EINTR);
    ::close(fds[0]);
    int status = 0;
    pid_t waited = 0;
    do {
        waited = ::waitpid(pid, &status, 0);
    } while (waited < 0 && errno == EINTR);
    if (waited != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != 1)
        return -1;
    return bits;
}

void kernel_check(const Case& c, const std::string& ctx)
{
    if (!tg::acl_shape_valid(c.subject.acl))
        return;
    if (::fchown(g_obj.fd, c.subject.owner, c.subject.group) != 0)
        tgfuzz::property_fail(("fchown: " + std::string(std::strerror(errno))).c_str(), ctx);
    // K1
    if (!kernel_acl_set(c.subject.acl))
        tgfuzz::property_fail(("a well-formed ACL was refused: " + std::string(std::strerror(errno))).c_str(), ctx);
    // K2
    auto back = tg::acl_read_fd(g_obj.fd);
    FUZZ_CHECK(back.has_value(), ctx);
    FUZZ_CHECK(entries_sorted(*back) == entries_sorted(c.subject.acl), ctx);
    // K3
    const int bits = kernel_answers(c.caller);
    FUZZ_CHECK(bits >= 0, ctx);
    for (std::uint8_t want = 0; want < 8; ++want) {
        const bool kernel = (bits >> want) & 1;
        const bool mine = tg::acl_access_check(c.subject, c.caller, want) == AclAccess::granted;
        if (kernel != mine)
            tgfuzz::property_fail(("evaluator and kernel disagree on want " + std::to_string(want) +
                                   ": kernel " + (kernel ? "grants" : "denies")).c_str(),
                                  ctx);
    }
    // K4
    if (tg::socket_acl_judge(c.subject.acl, c.subject.owner, c.subject.group, c.gate) &&
        c.caller.uid != c.subject.owner && !in_gate(c.caller, c.gate))
        FUZZ_CHECK((bits & (1 << tg::kAclRead)) == 0 && (bits & (1 << tg::kAclWrite)) == 0, ctx);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    kernel_object_make();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const Case c = case_read(data, size);
    const std::string ctx = acl_text(c);
    pure_check(c, c.caller, ctx);
    for (std::uint32_t uid : kIds)
        pure_check(c, AclCaller{uid, {c.subject.group}}, ctx);
    judge_check(c, ctx);
    kernel_check(c, ctx);
    return 0;
}
