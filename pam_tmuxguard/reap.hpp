// Reaping at logout: the user's own tmux servers under RUNTIME/UID/tmux-UID
// (where a plain `tmux` puts them with TMUX_TMPDIR=RUNTIME/UID) that have no
// attached client and are not shares of the policy.
#pragma once

#include <pwd.h>
#include <security/pam_modules.h>

#include <functional>
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
//     compiled policy (a policy that cannot be read means no reaping; it
//     is read only when the user's tmux directory holds a socket, so a
//     logout without one neither pays for nor fails on it);
//  3. run tmux only as the user (tg::run_as: ids dropped and proved, the
//     host's signals untouched), the trusted configured tmux, with -N and a
//     fixed environment, within one budget for the whole reap (5 s, at most
//     3 s per command), so the user's servers cannot hang the logout;
//     what was left alone for want of time or answers is one log line;
//  4. kill a server only when `list-clients` succeeded and listed nobody,
//     and `still_last()` says no new session of the user began meanwhile;
//  5. look at no more than 64 sockets.
[[nodiscard]] tg::Result<ReapCount> reap_idle_servers(pam_handle_t* pamh, const Options& o,
                                                      const struct passwd& pw,
                                                      const std::function<bool()>& still_last);

}  // namespace tgpam
