// The policy language (text, as the admin writes it) and its parsed form.
//
// Grammar, one directive per line, `#` starts a comment, tokens are separated
// by blanks (see docs/policy.md and tmuxguard.conf(5)):
//
//   set log PATH | set syslog on|off | set tmux PATH | set runtime-dir PATH
//   share NAME owner USER [socket /ABSOLUTE/PATH]
//   permit view|interact WHO on SHARE|* [hours HH:MM-HH:MM] [days SPEC] [until YYYY-MM-DDTHH:MM]
//   deny WHO on SHARE|*
//
// WHO is `user`, `:group` or `*`. Any error anywhere makes the whole policy
// invalid, and an invalid policy denies every request (STYLE.md 2).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/error.hpp"

namespace tg {

// Zero is the least: a zero-initialised mode grants nothing (STYLE.md 1).
enum class Mode : std::uint8_t { none = 0, view = 1, interact = 2 };
// Zero is deny, so a rule nobody filled in can never permit.
enum class RuleKind : std::uint8_t { deny = 0, permit = 1 };
enum class WhoKind : std::uint8_t { user = 0, group = 1, any = 2 };

[[nodiscard]] std::string_view mode_name(Mode m);  // "none", "view", "interact"

// Time conditions of a permit rule. Minutes are local time since midnight;
// a window may cross midnight (22:00-06:00); `from` is inclusive, `to`
// exclusive. `days` is a bit mask, bit 0 = Sunday ... bit 6 = Saturday, and
// 0 means every day. `until_text` is kept as written; compile turns it into
// an epoch (local time).
struct TimeCond {
    int minute_from = -1;  // -1: no hours condition
    int minute_to = -1;
    std::uint8_t days = 0;
    std::string until_text;  // empty: no until
};

struct Rule {
    RuleKind kind = RuleKind::deny;
    Mode mode = Mode::none;  // permit only
    WhoKind who_kind = WhoKind::user;
    std::string who;    // user or group name (without ':'), empty for `*`
    std::string share;  // share name or "*"
    TimeCond when;
    std::string file;
    int line = 0;
};

struct ShareDef {
    std::string name;
    std::string owner;   // user name
    std::string socket;  // empty: RUNTIME-DIR/UID/NAME
    std::string file;
    int line = 0;
};

struct Settings {
    std::string log;          // defaults filled from paths.hpp
    bool syslog = true;
    std::string tmux;
    std::string runtime_dir;
};

struct Policy {
    Settings settings;
    std::vector<ShareDef> shares;
    std::vector<Rule> rules;            // in file order, files in lexical order
    std::vector<std::string> files;     // every file read, in order
    std::vector<std::string> errors;    // "FILE:LINE: message", in order
    [[nodiscard]] bool valid() const { return errors.empty(); }
};

// A policy with the built-in defaults of paths.hpp and nothing else.
[[nodiscard]] Policy policy_defaults();

// Parses `text` as the contents of `file`, appending to `into` (settings
// override earlier ones; errors are appended as "FILE:LINE: message").
void policy_parse_text(std::string_view text, std::string_view file, Policy& into);

// Checks what only the whole policy can tell (a rule naming an undefined
// share, two shares with one name or one socket); appends errors.
void policy_check_whole(Policy& p);

// Reads `conf` and then `dropin_dir`/*.conf in lexical (byte) order, each
// opened through open_trusted_file() (root-owned, not writable by group or
// other, no symlinks anywhere in the path). A missing drop-in directory is
// fine; a missing `conf` is an error. Every problem becomes an entry in
// `errors`, never an exception, then policy_check_whole() runs.
[[nodiscard]] Policy policy_load(const std::string& conf, const std::string& dropin_dir);

// User text as error messages echo it: quoted ('x'), cut to 64 bytes ("..."
// marks a cut), every byte outside 0x20-0x7e written as \xNN.
[[nodiscard]] std::string policy_quote(std::string_view s);

// Appends "FILE:LINE: message" to `p.errors` (FILE escaped like policy_quote,
// without quotes or cut). Used by the parser and by policy_compile().
void policy_error_add(Policy& p, std::string_view file, int line, const std::string& message);

// Syntax helpers, exposed for tests and fuzzers.
[[nodiscard]] bool policy_parse_hours(std::string_view s, int& from, int& to);
[[nodiscard]] bool policy_parse_days(std::string_view s, std::uint8_t& mask);
// "YYYY-MM-DDTHH:MM" as local time -> epoch seconds.
[[nodiscard]] bool policy_parse_local_time(std::string_view s, std::int64_t& epoch);

}  // namespace tg
