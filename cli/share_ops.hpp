// Operations on a share's running server, shared by serve, sync and reload:
// finding out whether it runs, and making its access list equal the policy.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/compiled.hpp"
#include "tmuxguard/error.hpp"
#include "tmuxguard/peer.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgcli {

// The compiled policy, valid; otherwise prints why ("tmuxguard: COMMAND:
// ...") and returns nullopt: the command exits 2.
[[nodiscard]] std::optional<tg::CompiledPolicy> policy_load_valid(std::string_view command);

// Whether the caller may act on the share: root, or its owner (real and
// effective uid).
[[nodiscard]] bool caller_may_manage(const tg::CompiledShare& s);

// The shares a command covers: each one named (it must exist and be the
// caller's to manage), or without names every share the caller may manage
// (root: all), in policy order. Errors: "unknown-share" (exit 2),
// "not-owner" (exit 1); the detail reads "only the owner of SHARE or root
// may VERB it".
[[nodiscard]] tg::Result<std::vector<const tg::CompiledShare*>>
share_targets(const tg::CompiledPolicy& c, const std::vector<std::string>& names,
              std::string_view verb);

// The exit status for an error of share_targets().
[[nodiscard]] int share_targets_status(const tg::Error& e);

// What sync, clients, reap and rotate start from: the valid compiled policy
// and the shares of it they cover (`shares` points into `policy`).
struct ShareSelection {
    tg::CompiledPolicy policy;
    std::vector<const tg::CompiledShare*> shares;
};

// policy_load_valid() then share_targets(); on failure prints why as
// "tmuxguard: COMMAND: ..." and returns the exit status instead.
[[nodiscard]] std::expected<ShareSelection, int>
share_selection_load(const std::vector<std::string>& names, std::string_view command,
                     std::string_view verb);

enum class ServerState : std::uint8_t {
    no_dir,   // the socket's directory does not exist
    absent,   // no socket
    stale,    // a socket of the owner's that refuses connections
    running,  // the owner's server answers (SO_PEERCRED checked)
};

// What is at a share's socket. `dir` and `socket` are the O_PATH
// descriptors that were judged (socket only when there is one).
struct ServerProbe {
    ServerState state = ServerState::absent;
    tg::UniqueFd dir;
    tg::UniqueFd socket;
    tg::PeerInfo peer;
};

// Walks to the socket's directory (dir_open_verified, owner or root owned),
// then probes the socket in it.
[[nodiscard]] tg::Result<ServerProbe> server_probe(const tg::CompiledShare& s);

// Probes the socket under an already verified directory descriptor: it must
// be a socket (never followed) owned by the share's owner, then peer_verify.
[[nodiscard]] tg::Result<ServerProbe> server_probe_at(tg::UniqueFd dir, const tg::CompiledShare& s);

enum class SyncAction : std::uint8_t { add, change, revoke };

struct SyncChange {
    SyncAction action = SyncAction::revoke;
    std::string user;
    uid_t uid = 0;
    tg::Mode mode = tg::Mode::none;  // the new mode (none for revoke)
    tg::Mode old_mode = tg::Mode::none;
};

struct SyncReport {
    std::string share;
    bool running = false;
    pid_t server_pid = 0;
    std::vector<SyncChange> changes;
    std::vector<std::string> errors;
    [[nodiscard]] bool ok() const { return errors.empty(); }
};

// The access list the policy wants for `s` at `now` (docs/cli.md, sync step
// 2), by account name; accounts without a usable name go to `errors`. audit
// judges drift with it exactly as sync repairs it.
[[nodiscard]] std::map<std::string, tg::Mode> share_access_wanted(const tg::CompiledPolicy& c,
                                                                  const tg::CompiledShare& s,
                                                                  std::time_t now,
                                                                  std::vector<std::string>& errors);

// For a running share: re-applies the socket ACL, then makes tmux's
// server-access list equal the policy at `now` (see docs/cli.md).
[[nodiscard]] SyncReport sync_share(const tg::CompiledPolicy& c, const tg::CompiledShare& s,
                                    std::time_t now);

// "sync SHARE: +alice view" lines on stdout, errors on stderr as
// "tmuxguard: COMMAND: SHARE: message".
void sync_report_print(const SyncReport& r, std::string_view command);

// The report as one JSON object.
[[nodiscard]] std::string sync_report_json(const SyncReport& r);

}  // namespace tgcli
