// `tmuxguard audit`: who can get into which tmux on this machine right now.
// The stages, each in its own file: discover (audit_discover.cpp) the socket
// paths, inspect (audit_inspect.cpp) each one by descriptor, compute who can
// connect (audit_reach.cpp), ask each server as its owner (audit_query.cpp),
// judge (audit_findings.cpp), print (audit_report.cpp).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "nss.hpp"
#include "tmuxguard/acl.hpp"
#include "tmuxguard/compiled.hpp"
#include "tmuxguard/error.hpp"
#include "tmuxguard/policy.hpp"

namespace tgcli::audit {

// Bounds of one run (docs/cli.md, audit).
inline constexpr std::size_t kMaxSockets = 10000;       // sockets inspected
inline constexpr std::size_t kMaxDirEntries = 100000;   // entries read per directory
inline constexpr int kPathScanDepth = 3;                // a PATH directory, scanned this deep
inline constexpr std::size_t kMaxPathComponents = 64;   // per socket path
inline constexpr int kQueryTimeoutMs = 5000;            // one tmux query
inline constexpr int kQueryBudgetMs = 60000;            // all tmux queries together
inline constexpr std::size_t kQueryParallel = 8;        // tmux queries in flight

// An inode, as fstat names it.
struct InodeKey {
    dev_t dev = 0;
    ino_t ino = 0;
    auto operator<=>(const InodeKey&) const = default;
};

// ---------------------------------------------------------------- discovery

// The socket paths to inspect, and what discovery could not see.
struct Discovery {
    std::vector<std::string> paths;               // absolute, without duplicates
    std::set<std::string> listening;              // paths with a listener (/proc/net/unix)
    std::map<std::string, pid_t> tmux_listeners;  // path -> tmux server pid (/proc/PID/fd)
    std::vector<std::string> limits;
    std::size_t dirs_unreadable = 0;              // permission denied while scanning
};

// Without operands: /proc/net/unix listeners held by tmux processes,
// /tmp/tmux-*/, RUNTIME/UID/ and RUNTIME/UID/tmux-UID/, every share socket.
// With operands: those sockets, and sockets in those directories
// (kPathScanDepth deep). Fails ("discovery-failed") only when the machine's
// listeners cannot be read at all or an operand does not exist.
[[nodiscard]] tg::Result<Discovery> discover(const std::vector<std::string>& operands,
                                             const tg::CompiledPolicy* policy);

// "/a/./b//c/" -> "/a/b/c"; relative paths against the working directory;
// ".." removes the previous component. Empty on failure.
[[nodiscard]] std::string path_absolute(const std::string& path);

// ---------------------------------------------------------------- inspection

// An inode on a socket's path, as judged: owner, group, mode, access ACL.
struct InodeFacts {
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t mode = 0;
    std::vector<tg::AclEntry> acl;
    bool acl_ok = false;  // false: the ACL could not be read
};

enum class Liveness : std::uint8_t { unknown, live, stale };

// What the server's owner's tmux said (audit_query.cpp).
struct AccessEntry {
    std::string name;
    tg::Mode mode = tg::Mode::none;
};

enum class QueryState : std::uint8_t {
    not_asked,       // not live, not tmux, or not ours to ask
    answered,        // version and access list known
    no_access_list,  // the server has no server-access (tmux < 3.3)
    failed,          // see `query_error`
};

// Who can connect(): every account (non-root) that gets w on the socket and
// x on every directory from "/".
struct Reach {
    bool known = false;                 // false: an ACL could not be read
    std::vector<std::string> accounts;  // names, in account order
    std::vector<uid_t> uids;
    std::vector<std::string> excluded;  // with `everyone`: accounts it does not reach
    bool everyone = false;              // any uid that no entry names gets through
    bool gate = false;                  // the gate group gets through
};

// One socket, from discovery to findings.
struct Socket {
    std::string path;
    InodeKey key;
    InodeFacts facts;
    std::vector<InodeKey> dirs;  // "/" first, the socket's directory last
    Liveness state = Liveness::unknown;
    pid_t pid = 0;                         // the listener, 0 when unknown
    std::optional<uid_t> server_uid;       // the listener's uid
    bool peer_cred = false;                // pid and uid from SO_PEERCRED of audit's own connect
    bool tmux = false;                     // the listener is a tmux process
    std::string open_dir;                  // a directory on the path others may write, "" if none
    std::string open_dir_detail;           // "owner NAME, mode 0777"
    bool queryable = false;                // inspect's verdict: tmux may be asked as server_uid
    const tg::CompiledShare* share = nullptr;
    Reach reach;
    QueryState query = QueryState::not_asked;
    std::string version;
    std::vector<AccessEntry> access_list;
    std::string query_error;

    // The account the server runs as (the listener), else the file's owner.
    [[nodiscard]] uid_t owner_uid() const { return server_uid.value_or(facts.uid); }
};

// Everything the later stages need about the inodes seen.
struct Inodes {
    std::map<InodeKey, InodeFacts> facts;
};

// Walks each path from "/" by descriptor (O_PATH|O_NOFOLLOW, fstat, the
// ACL of every component), keeps sockets only, probes each for a listener
// (a non-blocking connect through /proc/self/fd/N, SO_PEERCRED), names the
// listener from /proc/PID/comm and matches shares by inode. Appends what it
// could not judge to `limits`.
[[nodiscard]] std::vector<Socket> inspect(const Discovery& d, const tg::CompiledPolicy* policy,
                                          Inodes& inodes, std::vector<std::string>& limits);

// ---------------------------------------------------------------- reach

// An identity the kernel could check: an account, "anyone" (a uid no entry
// names, no groups) or the gate group alone.
struct Principal {
    std::string name;
    uid_t uid = 0;
    std::vector<gid_t> gids;
    enum class Kind : std::uint8_t { account, anyone, gate } kind = Kind::account;
};

// Every account but root (getpwent, getgrouplist), then anyone, then the
// gate when `gate` is set.
[[nodiscard]] std::vector<Principal> principals_build(std::optional<gid_t> gate);

// Fills each socket's `reach` (acl_eval.hpp over every inode on its path).
void reach_compute(std::vector<Socket>& sockets, const Inodes& inodes,
                   const std::vector<Principal>& principals, std::vector<std::string>& limits);

// ---------------------------------------------------------------- queries

// Asks every live tmux server, as its owner (root: any owner; otherwise
// only the caller's own servers), for its version and access list,
// kQueryParallel at a time, within kQueryBudgetMs.
void query_servers(std::vector<Socket>& sockets, const std::string& tmux,
                   std::vector<std::string>& limits);

// ---------------------------------------------------------------- findings

enum class Severity : std::uint8_t { info, low, medium, high };

struct Finding {
    Severity severity = Severity::info;
    std::string code;
    std::string socket;
    std::string message;
    std::string fix;
};

// The findings for every socket, most severe first (docs/cli.md, audit).
[[nodiscard]] std::vector<Finding> findings_judge(const std::vector<Socket>& sockets,
                                                  const tg::CompiledPolicy* policy,
                                                  const std::vector<Principal>& principals,
                                                  std::time_t now, std::vector<std::string>& limits);


// ---------------------------------------------------------------- report

[[nodiscard]] std::string_view severity_name(Severity s);

// The table, the findings and the limits, for a person.
void report_print(const std::vector<Socket>& sockets, const std::vector<Finding>& findings,
                  const std::vector<std::string>& limits);

// {"sockets":[...],"findings":[...],"limits":[...]} on one line.
[[nodiscard]] std::string report_json(const std::vector<Socket>& sockets,
                                      const std::vector<Finding>& findings,
                                      const std::vector<std::string>& limits);

// "1 server", "3 servers".
[[nodiscard]] std::string counted(std::size_t n, std::string_view one, std::string_view many);

// A cached uid -> account name ("uid N" when there is none).
[[nodiscard]] std::string account_name(uid_t uid);

// A cached gid -> group name ("gid N" when there is none).
[[nodiscard]] std::string group_name(gid_t gid);

}  // namespace tgcli::audit
