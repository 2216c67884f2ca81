// POSIX ACLs of the share socket and the runtime directory (acl.hpp), read
// and written with libacl through /proc/self/fd/N, the very inode the
// caller holds a descriptor of.
#include "tmuxguard/acl.hpp"

#include <acl/libacl.h>
#include <sys/acl.h>

#include <cerrno>
#include <memory>
#include <type_traits>
#include <utility>

#include "tmuxguard/pathwalk.hpp"

namespace tg {
namespace {

constexpr std::uint8_t kRead = 4;
constexpr std::uint8_t kWrite = 2;
constexpr std::uint8_t kExec = 1;
constexpr std::uint8_t kReadWrite = kRead | kWrite;

struct AclFree {
    void operator()(acl_t acl) const noexcept { acl_free(acl); }
};
using AclPtr = std::unique_ptr<std::remove_pointer_t<acl_t>, AclFree>;

// libacl's tag for ours.
acl_tag_t acl_tag_to_lib(AclTag tag)
{
    switch (tag) {
    case AclTag::user_obj:
        return ACL_USER_OBJ;
    case AclTag::user:
        return ACL_USER;
    case AclTag::group_obj:
        return ACL_GROUP_OBJ;
    case AclTag::group:
        return ACL_GROUP;
    case AclTag::mask:
        return ACL_MASK;
    case AclTag::other:
        return ACL_OTHER;
    }
    return ACL_UNDEFINED_TAG;
}

// Our tag for libacl's; false for a tag we do not know (refused by callers).
bool acl_tag_from_lib(acl_tag_t lib, AclTag& out)
{
    for (AclTag t : {AclTag::user_obj, AclTag::user, AclTag::group_obj, AclTag::group,
                     AclTag::mask, AclTag::other}) {
        if (acl_tag_to_lib(t) == lib) {
            out = t;
            return true;
        }
    }
    return false;
}

// "rw-" for 6.
std::string acl_perms_text(std::uint8_t perms)
{
    std::string s = "---";
    if (perms & kRead)
        s[0] = 'r';
    if (perms & kWrite)
        s[1] = 'w';
    if (perms & kExec)
        s[2] = 'x';
    return s;
}

// One entry in getfacl's short form: "user:1234:rw-", "group::---".
std::string acl_entry_text(const AclEntry& e)
{
    const char* kind = "?";
    switch (e.tag) {
    case AclTag::user_obj:
    case AclTag::user:
        kind = "user";
        break;
    case AclTag::group_obj:
    case AclTag::group:
        kind = "group";
        break;
    case AclTag::mask:
        kind = "mask";
        break;
    case AclTag::other:
        kind = "other";
        break;
    }
    const bool named = e.tag == AclTag::user || e.tag == AclTag::group;
    return std::string(kind) + ":" + (named ? std::to_string(e.id) : std::string()) + ":" +
           acl_perms_text(e.perms);
}

// Reads the permission bits of one libacl entry; -1 on error.
int acl_entry_perms_read(acl_entry_t entry)
{
    acl_permset_t ps = nullptr;
    if (acl_get_permset(entry, &ps) != 0)
        return -1;
    const int r = acl_get_perm(ps, ACL_READ);
    const int w = acl_get_perm(ps, ACL_WRITE);
    const int x = acl_get_perm(ps, ACL_EXECUTE);
    if (r < 0 || w < 0 || x < 0)
        return -1;
    return (r ? kRead : 0) | (w ? kWrite : 0) | (x ? kExec : 0);
}

// Converts one libacl entry; an unknown tag or any libacl error fails.
Result<AclEntry> acl_entry_read(acl_entry_t entry, const std::string& shown)
{
    acl_tag_t lib = ACL_UNDEFINED_TAG;
    AclEntry out{AclTag::other};
    if (acl_get_tag_type(entry, &lib) != 0)
        return fail("acl-read-failed", errno, shown, "acl_get_tag_type");
    if (!acl_tag_from_lib(lib, out.tag))
        return fail("acl-read-failed", 0, shown, "unknown ACL tag");
    if (lib == ACL_USER || lib == ACL_GROUP) {
        void* q = acl_get_qualifier(entry);
        if (q == nullptr)
            return fail("acl-read-failed", errno, shown, "acl_get_qualifier");
        out.id = *static_cast<id_t*>(q);  // uid_t and gid_t are both id_t
        acl_free(q);
    }
    const int perms = acl_entry_perms_read(entry);
    if (perms < 0)
        return fail("acl-read-failed", errno, shown, "permissions");
    out.perms = static_cast<std::uint8_t>(perms);
    return out;
}

// Adds one entry to `*acl` (which libacl may reallocate); false with errno
// set on failure.
bool acl_entry_add(acl_t* acl, const AclEntry& want)
{
    acl_entry_t entry = nullptr;
    acl_permset_t ps = nullptr;
    if (acl_create_entry(acl, &entry) != 0 ||
        acl_set_tag_type(entry, acl_tag_to_lib(want.tag)) != 0)
        return false;
    if (want.tag == AclTag::user || want.tag == AclTag::group) {
        const id_t id = want.id;
        if (acl_set_qualifier(entry, &id) != 0)
            return false;
    }
    if (acl_get_permset(entry, &ps) != 0 || acl_clear_perms(ps) != 0)
        return false;
    for (auto [bit, perm] : {std::pair{kRead, ACL_READ}, std::pair{kWrite, ACL_WRITE},
                             std::pair{kExec, ACL_EXECUTE}}) {
        if ((want.perms & bit) != 0 && acl_add_perm(ps, perm) != 0)
            return false;
    }
    return acl_set_permset(entry, ps) == 0;
}

// Builds a libacl ACL from entries (numeric ids only: no NSS) and checks it
// with acl_valid().
Result<AclPtr> acl_build(const std::vector<AclEntry>& entries)
{
    AclPtr acl(acl_init(static_cast<int>(entries.size())));
    if (acl == nullptr)
        return fail("acl-apply-failed", errno, {}, "acl_init");
    for (const AclEntry& e : entries) {
        acl_t raw = acl.release();
        const bool ok = acl_entry_add(&raw, e);
        const int err = errno;
        acl.reset(raw);
        if (!ok)
            return fail("acl-apply-failed", err, acl_entry_text(e), "cannot build entry");
    }
    if (acl_valid(acl.get()) != 0)
        return fail("acl-apply-failed", EINVAL, {}, "acl_valid refused the ACL");
    return acl;
}

// Sets the access ACL of the inode behind `fd` to exactly `entries`.
Result<void> acl_apply(int fd, const std::vector<AclEntry>& entries)
{
    auto acl = acl_build(entries);
    if (!acl)
        return std::unexpected(acl.error());
    const std::string proc = fd_proc_path(fd);
    if (acl_set_file(proc.c_str(), ACL_TYPE_ACCESS, acl->get()) != 0)
        return fail("acl-apply-failed", errno, proc, "acl_set_file");
    return {};
}

// The mask: rwx when there is none; the union of all mask entries if a
// malformed list had several (the most permissive reading fails closed).
std::uint8_t acl_mask_of(const std::vector<AclEntry>& acl)
{
    bool seen = false;
    std::uint8_t mask = 0;
    for (const AclEntry& e : acl) {
        if (e.tag == AclTag::mask) {
            seen = true;
            mask = static_cast<std::uint8_t>(mask | e.perms);
        }
    }
    return seen ? mask : static_cast<std::uint8_t>(7);
}

// Read and write bits an entry grants, mask applied where it applies, x
// ignored (acl.hpp clauses 2 and 3).
std::uint8_t acl_entry_rw(const AclEntry& e, std::uint8_t mask)
{
    const bool masked = e.tag == AclTag::user || e.tag == AclTag::group_obj ||
                        e.tag == AclTag::group;
    return static_cast<std::uint8_t>(e.perms & kReadWrite & (masked ? mask : 7));
}

// A refusal naming the entry and what it grants after the mask.
std::unexpected<Error> acl_refuse(const char* reason, const AclEntry& e, std::uint8_t rw)
{
    return fail(reason, 0, acl_entry_text(e), "grants " + acl_perms_text(rw) + " after the mask");
}

// "socket-mode-unsafe": other, or the owning group unless it is the gate,
// gets r or w.
Result<void> acl_mode_judge(const std::vector<AclEntry>& acl, std::uint8_t mask,
                            gid_t socket_gid, gid_t gate_gid)
{
    for (const AclEntry& e : acl) {
        const std::uint8_t rw = acl_entry_rw(e, mask);
        const bool foreign = e.tag == AclTag::other ||
                             (e.tag == AclTag::group_obj && socket_gid != gate_gid);
        if (foreign && rw != 0)
            return acl_refuse("socket-mode-unsafe", e, rw);
    }
    return {};
}

// "acl-overgrant": a named user other than the owner, or a named group
// other than the gate, gets r or w.
Result<void> acl_named_judge(const std::vector<AclEntry>& acl, std::uint8_t mask, uid_t owner,
                             gid_t gate_gid)
{
    for (const AclEntry& e : acl) {
        const std::uint8_t rw = acl_entry_rw(e, mask);
        const bool foreign = (e.tag == AclTag::user && e.id != owner) ||
                             (e.tag == AclTag::group && e.id != gate_gid);
        if (foreign && rw != 0)
            return acl_refuse("acl-overgrant", e, rw);
    }
    return {};
}

// Whether the gate group gets both r and w after the mask, by a named entry
// or as the socket's owning group.
bool acl_gate_granted(const std::vector<AclEntry>& acl, std::uint8_t mask, gid_t socket_gid,
                      gid_t gate_gid)
{
    for (const AclEntry& e : acl) {
        const bool gate = (e.tag == AclTag::group && e.id == gate_gid) ||
                          (e.tag == AclTag::group_obj && socket_gid == gate_gid);
        if (gate && acl_entry_rw(e, mask) == kReadWrite)
            return true;
    }
    return false;
}

// Reads one ACL of the inode behind `fd` through /proc/self/fd/N (works
// for O_PATH fds).
Result<std::vector<AclEntry>> acl_read_type(int fd, acl_type_t type)
{
    const std::string proc = fd_proc_path(fd);
    AclPtr acl(acl_get_file(proc.c_str(), type));
    if (acl == nullptr)
        return fail("acl-read-failed", errno, proc, "acl_get_file");
    std::vector<AclEntry> out;
    acl_entry_t entry = nullptr;
    int more = acl_get_entry(acl.get(), ACL_FIRST_ENTRY, &entry);
    for (; more == 1; more = acl_get_entry(acl.get(), ACL_NEXT_ENTRY, &entry)) {
        auto e = acl_entry_read(entry, proc);
        if (!e)
            return std::unexpected(e.error());
        out.push_back(*e);
    }
    if (more < 0)
        return fail("acl-read-failed", errno, proc, "acl_get_entry");
    return out;
}

}  // namespace

Result<std::vector<AclEntry>> acl_read_fd(int fd)
{
    return acl_read_type(fd, ACL_TYPE_ACCESS);
}

Result<std::vector<AclEntry>> acl_read_default_fd(int fd)
{
    return acl_read_type(fd, ACL_TYPE_DEFAULT);
}

// Named entries are someone's deliberate grant: refused, never rewritten.
Result<void> runtime_dir_acl_judge(const std::vector<AclEntry>& acl, gid_t gate_gid)
{
    for (const AclEntry& e : acl) {
        if (e.tag == AclTag::user || (e.tag == AclTag::group && e.id != gate_gid))
            return fail("acl-overgrant", 0, acl_entry_text(e),
                        "an extra ACL entry on a runtime directory");
    }
    return {};
}

// Pure judgement of a socket's ACL; checks run in a fixed order (mode bits,
// named entries, gate), so the reason does not depend on entry order.
Result<void> socket_acl_judge(const std::vector<AclEntry>& acl, uid_t owner, gid_t socket_gid,
                              gid_t gate_gid)
{
    const std::uint8_t mask = acl_mask_of(acl);
    if (auto ok = acl_mode_judge(acl, mask, socket_gid, gate_gid); !ok)
        return ok;
    if (auto ok = acl_named_judge(acl, mask, owner, gate_gid); !ok)
        return ok;
    if (!acl_gate_granted(acl, mask, socket_gid, gate_gid))
        return fail("acl-gate-missing", 0, acl_entry_text({AclTag::group, gate_gid, kReadWrite}),
                    "the gate group needs rw- after the mask");
    return {};
}

// Reads the ACL of the inode behind `fd` and judges it; unreadable: refused.
Result<void> socket_acl_check(int fd, uid_t owner, gid_t socket_gid, gid_t gate_gid)
{
    auto acl = acl_read_fd(fd);
    if (!acl)
        return std::unexpected(acl.error());
    return socket_acl_judge(*acl, owner, socket_gid, gate_gid);
}

// user::rw-, group::---, group:GATE:rw-, mask::rw-, other::---
Result<void> acl_apply_socket(int fd, gid_t gate_gid)
{
    return acl_apply(fd, {{AclTag::user_obj, 0, kReadWrite},
                          {AclTag::group_obj, 0, 0},
                          {AclTag::group, gate_gid, kReadWrite},
                          {AclTag::mask, 0, kReadWrite},
                          {AclTag::other, 0, 0}});
}

// user::rwx, group::---, group:GATE:--x, mask::--x, other::---
Result<void> acl_apply_runtime_dir(int fd, gid_t gate_gid)
{
    return acl_apply(fd, {{AclTag::user_obj, 0, kReadWrite | kExec},
                          {AclTag::group_obj, 0, 0},
                          {AclTag::group, gate_gid, kExec},
                          {AclTag::mask, 0, kExec},
                          {AclTag::other, 0, 0}});
}

}  // namespace tg
