// Who may do what to an inode: the kernel's POSIX ACL check, as a pure
// function over the entries acl_read_fd() returns. `tmuxguard audit` asks it,
// for every account, whether connect() would reach a socket (w on the socket,
// x on every directory from "/").
//
// Contract for acl_access_check() (Linux fs/namei.c acl_permission_check,
// then fs/posix_acl.c posix_acl_permission; a file without an extended ACL
// is the same algorithm over its three mode entries, which is what
// acl_read_fd() returns for it):
//  1. `want` is any combination of r (4), w (2), x (1); other bits are
//     ignored; 0 is granted by any well-formed ACL;
//  2. the caller's uid equals the inode's owner: the user_obj entry decides,
//     without the mask, and nothing else is looked at;
//  3. else a named user entry with the caller's uid decides, its permissions
//     ANDed with the mask;
//  4. else the group class: the owning group (when it is among the caller's
//     gids) and every named group entry of the caller's gids are candidates;
//     if any one of them grants all of `want` (after the mask) it is granted;
//     if some matched but none grants, it is denied (other is NOT consulted);
//  5. else the other entry decides, without the mask;
//  5a. except that the kernel reads the ACL only when the mode's group bits
//     (the mask, for an extended ACL) are not all zero: under a mask of
//     ---, a caller in the owning group gets nothing and EVERY other caller,
//     named users and named groups included, gets the other entry
//     (`setfacl -m u:bob:---,m::---,o::rw-` lets bob write; proved against
//     the kernel in tests/unit/test_acl_eval.cpp);
//  6. the mask applies to named users, the owning group and named groups
//     only; without a mask entry nothing is masked;
//  7. the ACL must have the shape libacl writes: exactly one user_obj,
//     group_obj and other entry, at most one mask, a mask whenever there is a
//     named entry, no qualifier twice per tag; anything else is `malformed`
//     and grants nothing (the caller decides what an unreadable ACL means).
//     The kernel checks only the order of tags: a raw setxattr of
//     system.posix_acl_access can store `user:1000:r--` and `user:1000:rw-`
//     side by side (libacl refuses to), and which one the kernel's own check
//     meets first is not ours to guess, so such an ACL is malformed here;
//  8. entry order does not matter (the kernel keeps them sorted; with a
//     valid shape the result is the same in any order);
//  9. capabilities are not modelled: a uid-0 caller is judged like any other
//     uid, as the kernel judges a process without CAP_DAC_OVERRIDE and
//     CAP_DAC_READ_SEARCH. Root's real access is the caller's business.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <vector>

#include "tmuxguard/acl.hpp"

namespace tg {

inline constexpr std::uint8_t kAclRead = 4;
inline constexpr std::uint8_t kAclWrite = 2;
inline constexpr std::uint8_t kAclExec = 1;

// The identity the kernel checks: fsuid, and fsgid plus the supplementary
// groups, in any order, duplicates allowed.
struct AclCaller {
    uid_t uid = 0;
    std::vector<gid_t> gids;
};

// The inode's owner and owning group (st_uid, st_gid) and its access ACL.
struct AclSubject {
    uid_t owner = 0;
    gid_t group = 0;
    std::vector<AclEntry> acl;
};

// Zero is denied, so a value nobody set never grants (STYLE.md 1).
enum class AclAccess : std::uint8_t { denied = 0, granted = 1, malformed = 2 };

// Whether the ACL has the shape the kernel stores (clause 7).
[[nodiscard]] bool acl_shape_valid(std::span<const AclEntry> acl);

// The kernel's decision for `who` asking `want` of `subject` (clauses 1-9).
[[nodiscard]] AclAccess acl_access_check(const AclSubject& subject, const AclCaller& who,
                                         std::uint8_t want);

}  // namespace tg
