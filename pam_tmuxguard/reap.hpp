// Reaping at logout: the user's own tmux servers under RUNTIME/UID/tmux-UID
// (where a plain `tmux` puts them with TMUX_TMPDIR=RUNTIME/UID) that have no
// attached client and are not shares of the policy.
#pragma once

#include <pwd.h>
#include <security/pam_modules.h>

#include <string>

#include "options.hpp"
#include "tmuxguard/error.hpp"

namespace tgpam {

struct ReapCount {
    int servers = 0;  // live servers of the user that were looked at
    int reaped = 0;   // ended with kill-server
};

// Contract, reap_idle_servers() MUST:
//  1. reach RUNTIME/UID/tmux-UID by descriptor from a trusted RUNTIME, the
//     last two owned by the user, never following a symlink;
//  2. consider only sockets owned by the user whose listening peer
//     (SO_PEERCRED) is the user, and skip every share socket of the
//     compiled policy (a policy that cannot be read means no reaping);
//  3. run tmux only as the user (tg::run_as: ids dropped and proved), the
//     trusted configured tmux, with -N, a fixed environment and a short
//     deadline, so the user's server cannot hang the logout;
//  4. kill a server only when `list-clients` succeeded and listed nobody;
//  5. leave the host's SIGCHLD disposition as it found it.
[[nodiscard]] tg::Result<ReapCount> reap_idle_servers(pam_handle_t* pamh, const Options& o,
                                                      const struct passwd& pw);

}  // namespace tgpam
