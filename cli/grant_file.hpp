// Grant drop-ins: policy.d/grant-SHARE+USER.conf, written by `tmuxguard
// grant`, removed by `tmuxguard revoke` and by the pruning of expired ones.
//
// Contract, every function here MUST:
//  1. reach policy.d only through the descriptor root_dir_ensure() returned
//     (root-owned, not writable by group or other, no symlinks, every parent
//     likewise), and every file in it only by name relative to that
//     descriptor (openat/unlinkat/renameat with O_NOFOLLOW), never by path;
//  2. name a file after a validated share and account name joined by '+',
//     which neither may contain, so no two (share, user) pairs share a file;
//  3. treat a file as ours only when it is a root-owned regular file with one
//     link, not writable by group or other, whose first line is the marker;
//     anything else is never rewritten or removed;
//  4. prune a file only when it is exactly what grant_text_format() writes
//     (marker, comment, one permit line with `until`) and that `until` has
//     passed: removing an expired permit cannot change a decision's verdict
//     nor make a policy invalid;
//  5. write atomically: mkostemp of a hidden name (never *.conf, so the
//     loader skips it) in the directory, write, fsync, fchmod 0644, rename,
//     fsync of the directory; a failed write leaves no temporary file;
//  6. bound every wait and read: the lock is waited for at most
//     kGrantLockWait, a file is read up to kMaxGrantFile bytes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "tmuxguard/error.hpp"
#include "tmuxguard/policy.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgcli {

inline constexpr std::chrono::seconds kGrantLockWait{60};
inline constexpr std::size_t kMaxGrantFile = 4096;
// The permit line's number in a grant file (what records name as FILE:LINE).
inline constexpr int kGrantRuleLine = 3;

// policy.d, verified, and held exclusively (flock) against other grants and
// revokes while this object lives.
struct GrantDir {
    tg::UniqueFd fd;    // O_PATH descriptor of policy.d
    tg::UniqueFd lock;  // O_RDONLY descriptor of policy.d holding LOCK_EX
    std::string path;
};

// Creates policy.d (root 0755) or checks it, then takes the lock (clause 6).
[[nodiscard]] tg::Result<GrantDir> grant_dir_open(const std::string& path);

// "grant-SHARE+USER.conf" for a valid share and account name (clause 2).
[[nodiscard]] std::string grant_file_name(const std::string& share, const std::string& user);

// What one grant says.
struct GrantRule {
    tg::Mode mode = tg::Mode::none;
    std::string user;
    std::string share;
    std::string until;        // YYYY-MM-DDTHH:MM, local time
    std::int64_t until_epoch = 0;
};

// The end of a grant of `asked` from `now`: the start of the minute (local
// time) in which now+asked falls, so never later than asked; stepped back
// a minute at a time (bounded) when DST makes that text mean a later instant.
[[nodiscard]] tg::Result<GrantRule> grant_until_compute(std::time_t now, std::chrono::seconds asked);

// The file's text: marker, "# granted by uid U at TIME for DURATION",
// "permit MODE USER on SHARE until T".
[[nodiscard]] std::string grant_text_format(const GrantRule& g, uid_t by, std::time_t at,
                                            std::chrono::seconds asked);

// The rule of a text that is exactly what grant_text_format() writes for
// `share` and `user`; nullopt otherwise.
[[nodiscard]] std::optional<GrantRule> grant_text_parse(const std::string& text,
                                                        const std::string& share,
                                                        const std::string& user);

enum class GrantFileState : std::uint8_t { absent, ours, foreign };

struct GrantFile {
    GrantFileState state = GrantFileState::absent;
    std::string text;                // ours: the whole file, to restore it
    std::optional<GrantRule> rule;   // ours and exactly our format
    std::string why;                 // foreign: what makes it not ours
};

// Reads policy.d/NAME by descriptor and says whose it is (clause 3).
[[nodiscard]] tg::Result<GrantFile> grant_file_read(const GrantDir& d, const std::string& name,
                                                    const std::string& share,
                                                    const std::string& user);

// Publishes `text` as policy.d/NAME atomically (clause 5).
[[nodiscard]] tg::Result<void> grant_file_write(const GrantDir& d, const std::string& name,
                                                const std::string& text);

// unlinkat(policy.d, NAME) and fsync of the directory; a missing file is fine.
[[nodiscard]] tg::Result<void> grant_file_remove(const GrantDir& d, const std::string& name);

// One expired grant file that was removed.
struct GrantPruned {
    std::string path;
    GrantRule rule;
};

// Removes every grant file of ours whose `until` is at or before `now`,
// except `keep` (clause 4). Problems are appended to `errors`.
[[nodiscard]] std::vector<GrantPruned> grant_files_prune(const GrantDir& d, std::time_t now,
                                                         const std::string& keep,
                                                         std::vector<std::string>& errors);

}  // namespace tgcli
