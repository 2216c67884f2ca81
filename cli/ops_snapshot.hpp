// What a share's server says about its clients, sessions and windows, read
// in one tmux invocation as the owner and parsed strictly: the server may be
// hostile, so its output is bounded, every field is checked, and nothing of
// it is printed except through text_safe(). Used by `clients` and `reap`.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "nss.hpp"
#include "tmuxguard/compiled.hpp"
#include "tmuxguard/error.hpp"

namespace tgcli {

// One attached client (tmux lists only clients attached to a session).
struct SnapClient {
    uid_t uid = 0;
    std::string user;        // client_user as the server says (0x20-0x7e and UTF-8 only)
    bool readonly = true;
    std::time_t created = 0;
    std::time_t activity = 0;  // last key from this client
    pid_t pid = 0;
    std::string name;        // client_name: the target of detach-client -t
    std::string tty;
    std::string session_id;  // "$N"
    std::string session;     // its session's name
};

// One session, with the latest activity of the session and of every window.
struct SnapSession {
    std::string id;  // "$N": the target of kill-session -t
    std::string name;
    unsigned attached = 0;
    std::time_t created = 0;
    std::time_t activity = 0;  // max(session_activity, each window_activity)
};

struct ServerSnapshot {
    std::vector<SnapClient> clients;
    std::vector<SnapSession> sessions;
};

// Parses the output of the command snapshot_read() runs. Contract:
//  1. every line is exactly one record of a known kind with exactly its
//     number of tab-separated fields; anything else is an error
//     ("tmux-output-invalid"), never a guess;
//  2. numbers are decimal digits only, bounded (uid < 2^32-1, pid <= 2^22,
//     times of at most 11 digits); ids are "$N" / "@N";
//  3. client names and ttys are [A-Za-z0-9/._-]{1,64} (a tty path or
//     "client-PID"), so passing one back as `-t` cannot name something else;
//     session names and users hold no control byte and are at most 256 bytes;
//  4. at most kSnapMaxLines lines.
[[nodiscard]] tg::Result<ServerSnapshot> snapshot_parse(std::string_view out);

// Runs `list-clients ; list-sessions ; list-windows -a` (one invocation,
// so one consistent state) as the owner through tmux_run_as and parses it.
[[nodiscard]] tg::Result<ServerSnapshot> snapshot_read(const tg::CompiledPolicy& c,
                                                       const tg::CompiledShare& s,
                                                       const Account& owner);

inline constexpr std::size_t kSnapMaxLines = 20000;

}  // namespace tgcli
