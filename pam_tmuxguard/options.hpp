// Arguments of pam_tmuxguard.so, in the Linux-PAM style (pam.d line).
#pragma once

#include <string>

#include "tmuxguard/error.hpp"

namespace tgpam {

// What the module does when it cannot give the user a safe runtime
// directory: deny returns PAM_SESSION_ERR (the stack decides what that
// means), ignore returns PAM_IGNORE. Either way the refusal is logged and
// TMUX_TMPDIR is not set.
enum class OnFailure { deny, ignore };

struct Options {
    bool debug = false;           // debug: also log what was already right
    std::string runtime_dir;      // runtime_dir=PATH (default: configured)
    bool tmux_tmpdir = true;      // no_tmux_tmpdir turns the export off
    bool reap_on_logout = false;  // reap_on_logout
    OnFailure on_failure = OnFailure::deny;  // fail=deny|ignore
#ifdef TMUXGUARD_PAM_FAULT_INJECTION
    std::string fault;  // fault=throw|bad_alloc: test builds only
#endif
};

// Parses the module's arguments. Unknown or malformed arguments are an
// error (reason "bad-argument", subject the argument, escaped): the module
// refuses to run with a configuration it does not understand. A repeated
// argument: the last one wins, as in Linux-PAM's own modules.
[[nodiscard]] tg::Result<Options> options_parse(int argc, const char** argv);

}  // namespace tgpam
