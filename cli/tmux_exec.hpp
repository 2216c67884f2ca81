// The one way the CLI runs tmux against a share's server: as the share's
// owner, never as root (a tmux server can make its client run commands).
#pragma once

#include <string>
#include <vector>

#include "nss.hpp"
#include "tmuxguard/compiled.hpp"
#include "tmuxguard/error.hpp"

namespace tgcli {

// What tmux said and how it ended. Output is data: print it only through
// text_safe().
struct TmuxResult {
    int status = -1;  // exit status, or 128 + signal
    std::string out;
    std::string err;
};

// Whether this invocation may start a server (only `new-session` in serve);
// every other invocation passes -N.
enum class TmuxStart : bool { never = false, may_start = true };

// Runs `tmux [-N] -S SOCKET ARGS...` as `owner` (see the contract in
// tmux_exec.cpp). Errors: "tmux-untrusted", "exec-setup", "tmux-timeout",
// "tmux-output-too-large".
[[nodiscard]] tg::Result<TmuxResult> tmux_run_as(const std::string& tmux,
                                                 const tg::CompiledShare& share,
                                                 const Account& owner,
                                                 const std::vector<std::string>& args,
                                                 TmuxStart start);

// Runs `tmux -N -S SOCKET ARGS...` as `owner` against any server socket,
// share or not (audit's queries), under the same contract as tmux_run_as()
// (tmux_exec.cpp) except that the deadline is `timeout_ms` (at most the
// contract's 15 s). tmux opens SOCKET by path, as the owner: the caller
// must know that nobody but the owner and root can put a server of theirs
// at that path (audit: audit_inspect.cpp, clause 5).
[[nodiscard]] tg::Result<TmuxResult> tmux_query_as(const std::string& tmux,
                                                   const std::string& socket,
                                                   const Account& owner,
                                                   const std::vector<std::string>& args,
                                                   int timeout_ms);

}  // namespace tgcli
