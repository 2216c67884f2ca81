// The kernel's POSIX ACL check as a pure function (acl_eval.hpp).
#include "tmuxguard/acl_eval.hpp"

#include <algorithm>
#include <cstddef>

namespace tg {
namespace {

constexpr std::uint8_t kAll = kAclRead | kAclWrite | kAclExec;

// Whether `gid` is among the caller's groups (the kernel's in_group_p).
bool caller_in_group(const AclCaller& who, gid_t gid)
{
    return std::find(who.gids.begin(), who.gids.end(), gid) != who.gids.end();
}

// Whether `perms` covers every bit of `want`.
bool perms_cover(std::uint8_t perms, std::uint8_t want)
{
    return (perms & want) == want;
}

// The mask entry, or null when there is none (clause 6).
const AclEntry* acl_mask_entry(std::span<const AclEntry> acl)
{
    for (const AclEntry& e : acl) {
        if (e.tag == AclTag::mask)
            return &e;
    }
    return nullptr;
}

// Whether the qualifiers of the entries tagged `tag` are all different.
bool acl_qualifiers_unique(std::span<const AclEntry> acl, AclTag tag)
{
    std::vector<std::uint32_t> ids;
    for (const AclEntry& e : acl) {
        if (e.tag == tag)
            ids.push_back(e.id);
    }
    std::sort(ids.begin(), ids.end());
    return std::adjacent_find(ids.begin(), ids.end()) == ids.end();
}

// Entries tagged `tag`.
std::size_t acl_count(std::span<const AclEntry> acl, AclTag tag)
{
    return static_cast<std::size_t>(
        std::count_if(acl.begin(), acl.end(), [tag](const AclEntry& e) { return e.tag == tag; }));
}

// Clause 4: the group class. `matched` tells whether any entry applied.
bool acl_group_class_grants(const AclSubject& s, const AclCaller& who, std::uint8_t want,
                            std::uint8_t mask, bool& matched)
{
    matched = false;
    for (const AclEntry& e : s.acl) {
        const bool applies = (e.tag == AclTag::group_obj && caller_in_group(who, s.group)) ||
                             (e.tag == AclTag::group && caller_in_group(who, e.id));
        if (!applies)
            continue;
        matched = true;
        if (perms_cover(static_cast<std::uint8_t>(e.perms & mask), want))
            return true;
    }
    return false;
}

// The entry tagged `tag` (with qualifier `id` for named entries), or null.
const AclEntry* acl_find(std::span<const AclEntry> acl, AclTag tag, std::uint32_t id = 0)
{
    for (const AclEntry& e : acl) {
        if (e.tag == tag && (tag != AclTag::user || e.id == id))
            return &e;
    }
    return nullptr;
}

}  // namespace

// Clause 7: one user_obj, group_obj and other; at most one mask, required
// with named entries; unique qualifiers; only permission bits rwx.
bool acl_shape_valid(std::span<const AclEntry> acl)
{
    if (acl_count(acl, AclTag::user_obj) != 1 || acl_count(acl, AclTag::group_obj) != 1 ||
        acl_count(acl, AclTag::other) != 1 || acl_count(acl, AclTag::mask) > 1)
        return false;
    const bool named = acl_count(acl, AclTag::user) + acl_count(acl, AclTag::group) != 0;
    if (named && acl_count(acl, AclTag::mask) != 1)
        return false;
    const bool bits_ok = std::all_of(acl.begin(), acl.end(),
                                     [](const AclEntry& e) { return (e.perms & ~kAll) == 0; });
    return bits_ok && acl_qualifiers_unique(acl, AclTag::user) &&
           acl_qualifiers_unique(acl, AclTag::group);
}

// Clauses 2-5a in the kernel's order: owner; the mode's group bits when
// they are zero; named user, group class, other.
AclAccess acl_access_check(const AclSubject& s, const AclCaller& who, std::uint8_t want)
{
    if (!acl_shape_valid(s.acl))
        return AclAccess::malformed;
    want = static_cast<std::uint8_t>(want & kAll);
    auto verdict = [](bool ok) { return ok ? AclAccess::granted : AclAccess::denied; };
    if (who.uid == s.owner)
        return verdict(perms_cover(acl_find(s.acl, AclTag::user_obj)->perms, want));
    const AclEntry* mask_entry = acl_mask_entry(s.acl);
    const std::uint8_t mask = mask_entry != nullptr ? mask_entry->perms : kAll;
    if (mask_entry != nullptr && mask == 0) {
        const AclEntry* shown = caller_in_group(who, s.group) ? mask_entry : acl_find(s.acl, AclTag::other);
        return verdict(perms_cover(shown->perms, want));
    }
    if (const AclEntry* named = acl_find(s.acl, AclTag::user, who.uid))
        return verdict(perms_cover(static_cast<std::uint8_t>(named->perms & mask), want));
    bool matched = false;
    if (acl_group_class_grants(s, who, want, mask, matched))
        return AclAccess::granted;
    if (matched)
        return AclAccess::denied;
    return verdict(perms_cover(acl_find(s.acl, AclTag::other)->perms, want));
}

}  // namespace tg
