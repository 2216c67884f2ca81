// The wrapper's fixed command-line grammar and rebuilt environment.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/error.hpp"

namespace tg {

// tmuxguard-attach [-r] [-n] [-t SESSION] SHARE
struct AttachArgs {
    bool readonly = false;
    bool dry_run = false;
    std::string session;  // empty: the share's default session
    std::string share;
};

// Strict parse: options only before SHARE, "-rn" style clusters allowed,
// "--" ends options, each option at most once, exactly one operand, strict
// character sets (names.hpp). Reason "usage" with a detail on failure.
[[nodiscard]] Result<AttachArgs> attach_args_parse(int argc, const char* const* argv);

// The fresh environment of BRIEF.md step 2: TERM (if valid), LANG and LC_*
// (if valid), HOME, SHELL, USER, LOGNAME of the caller, and a fixed PATH.
// `old_env` is the caller's environment (NULL-terminated); nothing else is
// copied from it.
[[nodiscard]] std::vector<std::string> attach_env_build(const char* const* old_env,
                                                        std::string_view user,
                                                        std::string_view home,
                                                        std::string_view shell);

// The fixed tmux argv of BRIEF.md: tmux -N -S /proc/self/fd/N attach-session
// -E -t =SESSION [-r].
[[nodiscard]] std::vector<std::string> attach_tmux_argv(const std::string& tmux, int socket_fd,
                                                        const std::string& session,
                                                        bool readonly);

}  // namespace tg
