// audit, stage 3: who can connect() to each socket (audit.hpp).
//
// connect() on a unix socket needs search (x) on every directory from "/"
// and write (w) on the socket; root passes both by capability and is left
// out (audit is about everyone else). Each inode is judged once per
// principal with the kernel's algorithm (acl_eval.hpp), then ANDed along
// each socket's path. "anyone" stands for every uid no ACL entry or owner
// names, with no group that one names: when it gets through, so does every
// account that is not singled out, and every uid without an account.
#include <map>

#include "audit.hpp"
#include "tmuxguard/acl_eval.hpp"

namespace tgcli::audit {
namespace {

// A uid no inode is owned by and no entry names: chown(-1) means "no change",
// and ACL qualifiers of -1 are refused.
constexpr uid_t kNoUid = static_cast<uid_t>(-1);

// One verdict per principal.
using Verdicts = std::vector<tg::AclAccess>;

// The verdicts on one inode for `want`, computed once per inode.
class VerdictCache {
public:
    VerdictCache(const Inodes& inodes, const std::vector<Principal>& principals)
        : inodes_(inodes), principals_(principals)
    {
    }

    // Null when the inode's ACL could not be read.
    const Verdicts* get(const InodeKey& key, std::uint8_t want)
    {
        auto it = cache_.find({key, want});
        if (it != cache_.end())
            return it->second.empty() ? nullptr : &it->second;
        Verdicts v;
        const InodeFacts& f = inodes_.facts.at(key);
        if (f.acl_ok) {
            const tg::AclSubject subject{f.uid, f.gid, f.acl};
            for (const Principal& p : principals_)
                v.push_back(tg::acl_access_check(subject, tg::AclCaller{p.uid, p.gids}, want));
        }
        auto [pos, inserted] = cache_.emplace(std::pair{key, want}, std::move(v));
        return pos->second.empty() ? nullptr : &pos->second;
    }

private:
    const Inodes& inodes_;
    const std::vector<Principal>& principals_;
    std::map<std::pair<InodeKey, std::uint8_t>, Verdicts> cache_;
};

// ANDs `v` into `ok`; false when a verdict is malformed.
bool verdicts_and(const Verdicts& v, std::vector<bool>& ok)
{
    bool sound = true;
    for (std::size_t i = 0; i < v.size(); ++i) {
        sound = sound && v[i] != tg::AclAccess::malformed;
        ok[i] = ok[i] && v[i] == tg::AclAccess::granted;
    }
    return sound;
}

// The socket's reach from per-principal results.
Reach reach_from(const std::vector<bool>& ok, const std::vector<Principal>& principals)
{
    Reach r;
    r.known = true;
    for (std::size_t i = 0; i < principals.size(); ++i) {
        const Principal& p = principals[i];
        if (p.kind == Principal::Kind::anyone)
            r.everyone = ok[i];
        else if (p.kind == Principal::Kind::gate)
            r.gate = ok[i];
    }
    for (std::size_t i = 0; i < principals.size(); ++i) {
        const Principal& p = principals[i];
        if (p.kind != Principal::Kind::account)
            continue;
        if (ok[i]) {
            r.accounts.push_back(p.name);
            r.uids.push_back(p.uid);
        } else if (r.everyone) {
            r.excluded.push_back(p.name);
        }
    }
    return r;
}

}  // namespace

// Accounts (not root; the first name of a uid), then anyone, then the gate.
std::vector<Principal> principals_build(std::optional<gid_t> gate)
{
    std::vector<Principal> out;
    std::set<uid_t> seen;
    for (const Account& a : nss_all_accounts()) {
        if (a.uid == 0 || !seen.insert(a.uid).second)
            continue;
        out.push_back(Principal{a.name, a.uid, nss_account_groups(a), Principal::Kind::account});
    }
    out.push_back(Principal{"everyone", kNoUid, {}, Principal::Kind::anyone});
    if (gate)
        out.push_back(Principal{"gate", kNoUid, {*gate}, Principal::Kind::gate});
    return out;
}

// x on every directory, w on the socket, for every principal.
void reach_compute(std::vector<Socket>& sockets, const Inodes& inodes,
                   const std::vector<Principal>& principals, std::vector<std::string>& limits)
{
    VerdictCache cache(inodes, principals);
    std::size_t unknown = 0;
    for (Socket& s : sockets) {
        std::vector<bool> ok(principals.size(), true);
        bool sound = true;
        for (const InodeKey& dir : s.dirs) {
            const Verdicts* v = cache.get(dir, tg::kAclExec);
            sound = sound && v != nullptr && verdicts_and(*v, ok);
        }
        const Verdicts* v = cache.get(s.key, tg::kAclWrite);
        sound = sound && v != nullptr && verdicts_and(*v, ok);
        if (sound)
            s.reach = reach_from(ok, principals);
        else
            ++unknown;
    }
    if (unknown != 0)
        limits.push_back("who can connect is unknown for " + counted(unknown, "socket", "sockets") +
                         " (an ACL on the way could not be read)");
}

}  // namespace tgcli::audit
