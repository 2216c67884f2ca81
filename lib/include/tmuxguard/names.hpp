// Validation of every name and value that crosses a trust boundary.
// All functions are pure and total: any byte string gives true or false.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tg {

inline constexpr std::size_t kMaxNameLen = 64;

// Share names: [A-Za-z0-9][A-Za-z0-9._-]{0,63}
[[nodiscard]] bool name_is_valid_share(std::string_view s);
// tmux session names as the wrapper accepts them: [A-Za-z0-9][A-Za-z0-9_-]{0,63}
// (tmux itself turns '.' and ':' into '_', so they are never needed).
[[nodiscard]] bool name_is_valid_session(std::string_view s);
// The session a share's server starts with: the share name with '.' -> '_'.
[[nodiscard]] std::string name_default_session(std::string_view share);
// Account and group names as the policy accepts them (POSIX portable set,
// plus '$' last for machine accounts): [A-Za-z0-9_][A-Za-z0-9_.-]{0,31}[$]?
[[nodiscard]] bool name_is_valid_account(std::string_view s);
// TERM: [A-Za-z0-9][A-Za-z0-9._+-]{0,63}
[[nodiscard]] bool name_is_valid_term(std::string_view s);
// LANG / LC_*: [A-Za-z0-9_.@-]{1,64} with at most one '.' and one '@' ("C", "en_US.UTF-8")
[[nodiscard]] bool name_is_valid_locale(std::string_view s);
// An absolute path without "." or ".." components, "//", blanks or control
// bytes, at most PATH_MAX-1 bytes.
[[nodiscard]] bool name_is_clean_abs_path(std::string_view s);

// `s` with every control byte (< 0x20), every byte >= 0x7f and '\\' written
// as \xNN (so no C0, DEL or C1 control, raw or UTF-8 encoded, and the
// escaping is unambiguous), so nothing read from a file, NSS, tmux or PAM
// can drive a terminal or forge a log line.
[[nodiscard]] std::string text_safe(std::string_view s);

// Appends code point `cp` as UTF-8 and returns true; a code point UTF-8
// cannot carry (a surrogate, or above U+10FFFF) appends nothing: false.
bool utf8_append(std::string& out, std::uint32_t cp);

}  // namespace tg
