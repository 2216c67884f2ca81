// The two session entry points' work, behind the exception boundary of
// module.cpp. Both return a PAM status and log every decision.
#pragma once

#include <security/pam_modules.h>

#include <string>

#include "options.hpp"

namespace tgpam {

// Logs one line through pam_syslog at LOG_AUTHPRIV, `priority`; the text is
// passed as data ("%s"), never as a format.
void log_line(pam_handle_t* pamh, int priority, const std::string& text) noexcept;

// open_session: ensure RUNTIME (root 0755) and RUNTIME/UID (the user's,
// 0700, group:GATE:--x) by descriptor, export TMUX_TMPDIR, count the
// session when reaping is on.
[[nodiscard]] int session_open(pam_handle_t* pamh, const Options& o);

// close_session: with reap_on_logout, when the user's last counted session
// ends, end the user's tmux servers that have no attached client and are
// not shares (reap.hpp).
[[nodiscard]] int session_close(pam_handle_t* pamh, const Options& o);

}  // namespace tgpam
