// Shared pieces of the `tmuxguard` CLI: exit codes, argument parsing, output
// that never lets a control byte reach a terminal, JSON helpers, and reading
// root-owned files through the trusted path walk.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/compiled.hpp"
#include "tmuxguard/decision_log.hpp"
#include "tmuxguard/error.hpp"
#include "tmuxguard/names.hpp"

namespace tgcli {

// Exit status of every command (docs/cli.md).
inline constexpr int kExitOk = 0;       // success, or allow
inline constexpr int kExitRefused = 1;  // deny, not permitted, a finding
inline constexpr int kExitUsage = 2;    // usage or policy error
inline constexpr int kExitSystem = 3;   // system error

// Which options a command accepts besides its operands.
struct OptionSpec {
    bool json = false;  // --json
    bool at = false;    // --at YYYY-MM-DDTHH:MM
    std::vector<std::string_view> flags = {};   // e.g. "--dry-run"
    std::vector<std::string_view> values = {};  // e.g. "--idle": "--idle V" or "--idle=V"
};

struct Args {
    std::vector<std::string> operands;
    bool json = false;
    std::optional<std::string> at;
    std::set<std::string, std::less<>> flags;
    std::map<std::string, std::string, std::less<>> values;

    [[nodiscard]] bool flag(std::string_view name) const { return flags.contains(name); }
    [[nodiscard]] std::optional<std::string> value(std::string_view name) const
    {
        auto it = values.find(name);
        return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
};

// Parses a command's arguments (after the command name): the options of
// `spec` anywhere, "--" ends options, any other "-..." is a usage error, and
// so is an option given twice.
[[nodiscard]] tg::Result<Args> args_parse(const std::vector<std::string>& argv, OptionSpec spec);

// tg::text_safe (names.hpp): control bytes and bytes >= 0x7f as \xNN.
using tg::text_safe;

// Prints one line on stdout through text_safe().
void out_line(std::string_view s);

// Prints one line of JSON built from json_quote()d strings as it is: JSON's
// own escaping already leaves no control byte (C1 included) and no invalid
// UTF-8, and out_line() would turn each '\\' of an escape into "\\x5c".
void json_out_line(std::string_view json);

// Prints "tmuxguard: COMMAND: message" on stderr through text_safe().
void err_line(std::string_view command, std::string_view message);

// A JSON string literal (quotes included), escaped by the log encoder.
[[nodiscard]] std::string json_quote(std::string_view s);

// A JSON array of strings.
[[nodiscard]] std::string json_string_array(const std::vector<std::string>& items);

// Writes all of `data` to `fd` (EINTR retried); reason "path-error" with
// `shown` as the path.
[[nodiscard]] tg::Result<void> fd_write_all(int fd, const std::string& data, const std::string& shown);

// Reads a whole root-owned file through open_trusted_file() (size-capped).
[[nodiscard]] tg::Result<std::string> trusted_file_read(const std::string& path);

// Reads and parses the compiled policy at paths::compiled_policy.
[[nodiscard]] tg::Result<tg::CompiledPolicy> compiled_policy_load();

// A duration: one or more NUMBER UNIT pairs, unit s, m, h, d or w ("90s",
// "30m", "1h30m", "2d"); at least 1 s, at most 366 days; a bare number is
// refused (minutes or seconds?). Reason "usage" with the text in `detail`.
[[nodiscard]] tg::Result<std::chrono::seconds> duration_parse(std::string_view text);

// The shortest exact spelling with the two largest units: "45s", "3m20s",
// "1h30m", "2d3h" (seconds dropped from hours up, minutes from days up).
[[nodiscard]] std::string duration_format(std::chrono::seconds d);

// Prints rows under a header as aligned columns (two blanks between), every
// cell through text_safe(); the last column is not padded.
void table_print(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// Local time as "YYYY-MM-DDTHH:MM".
[[nodiscard]] std::string time_local_format(std::time_t t);

// The directory part and the last component of an absolute path.
[[nodiscard]] std::string path_dirname(const std::string& path);
[[nodiscard]] std::string path_basename(const std::string& path);

// Appends one decision record (an event of the CLI: "reload", "revoke") to
// the policy's log, and to syslog when the policy says so. The CLI's own
// events are not access decisions, so a failure is printed as a warning.
// `r.uid` is the record's subject as the caller set it: -1 is written as
// null (a revoke for an account that no longer exists), never as the caller.
void cli_log_event(const tg::CompiledPolicy& c, tg::DecisionRecord r, std::string_view command);

// Drops TZ from the environment so local time is /etc/localtime, as in the
// wrapper (explain and sync must decide as it does); remembers the value.
void time_zone_system_use();

// The caller's TZ as it was before time_zone_system_use(), if any (the
// owner's own tmux keeps it).
[[nodiscard]] const std::optional<std::string>& caller_time_zone();

// Whether the caller's real and effective uid are root.
[[nodiscard]] bool caller_is_root();

// The commands; each takes its arguments after the command name and returns
// the exit status.
int cmd_check_policy(const std::vector<std::string>& argv);
int cmd_explain(const std::vector<std::string>& argv);
int cmd_reload(const std::vector<std::string>& argv);
int cmd_serve(const std::vector<std::string>& argv);
int cmd_sync(const std::vector<std::string>& argv);
int cmd_audit(const std::vector<std::string>& argv);
int cmd_lint(const std::vector<std::string>& argv);
int cmd_clients(const std::vector<std::string>& argv);
int cmd_reap(const std::vector<std::string>& argv);
int cmd_rotate(const std::vector<std::string>& argv);
int cmd_grant(const std::vector<std::string>& argv);
int cmd_revoke(const std::vector<std::string>& argv);
int cmd_log(const std::vector<std::string>& argv);

}  // namespace tgcli
