#include "cli.hpp"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "tmuxguard/decision_log.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/paths.hpp"

namespace tgcli {

namespace {

// Larger than any sane policy, small enough that a runaway file cannot
// exhaust memory.
constexpr std::size_t kMaxTrustedFile = 64U << 20U;
// JSON strings in CLI output may carry whole error messages and paths.
constexpr std::size_t kJsonCap = 4096;

std::optional<std::string>& caller_tz_slot()
{
    static std::optional<std::string> tz;
    return tz;
}

}  // namespace

// Options anywhere, "--" ends them, unknown options are usage errors.
tg::Result<Args> args_parse(const std::vector<std::string>& argv, OptionSpec spec)
{
    Args a;
    bool options_done = false;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& s = argv[i];
        if (options_done || s.empty() || s[0] != '-' || s == "-") {
            a.operands.push_back(s);
        } else if (s == "--") {
            options_done = true;
        } else if (spec.json && s == "--json") {
            a.json = true;
        } else if (spec.at && s == "--at") {
            if (i + 1 >= argv.size())
                return tg::fail("usage", 0, {}, "option --at needs a value");
            a.at = argv[++i];
        } else if (spec.at && s.starts_with("--at=")) {
            a.at = s.substr(5);
        } else {
            return tg::fail("usage", 0, {}, "unknown option '" + text_safe(s) + "'");
        }
    }
    return a;
}

// One sanitised line on stdout.
void out_line(std::string_view s)
{
    std::string line = text_safe(s);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
}

// "tmuxguard: COMMAND: message" on stderr.
void err_line(std::string_view command, std::string_view message)
{
    std::string line = "tmuxguard: ";
    if (!command.empty()) {
        line += command;
        line += ": ";
    }
    line += text_safe(message);
    line += '\n';
    std::fflush(stdout);
    std::fwrite(line.data(), 1, line.size(), stderr);
}

// "\"...\"" with the decision log's escaping.
std::string json_quote(std::string_view s)
{
    return "\"" + tg::json_escape(s, kJsonCap) + "\"";
}

// ["a","b"]
std::string json_string_array(const std::vector<std::string>& items)
{
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0)
            out += ',';
        out += json_quote(items[i]);
    }
    return out + "]";
}

// open_trusted_file(), then read to EOF (EINTR retried, size-capped).
tg::Result<std::string> trusted_file_read(const std::string& path)
{
    return tg::read_trusted_file(path, kMaxTrustedFile);
}

// The compiled policy, whole (every share, every rule, every account).
tg::Result<tg::CompiledPolicy> compiled_policy_load()
{
    tg::Result<std::string> text = trusted_file_read(tg::paths::compiled_policy);
    if (!text && text.error().reason == "path-missing")
        return tg::fail("policy-missing", 0, tg::paths::compiled_policy,
                        "no compiled policy: run 'tmuxguard reload' as root");
    if (!text)
        return std::unexpected(text.error());
    return tg::compiled_parse(*text);
}

// strftime("%Y-%m-%dT%H:%M") in local time.
std::string time_local_format(std::time_t t)
{
    struct tm tm {};
    char buf[32];
    if (::localtime_r(&t, &tm) == nullptr ||
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M", &tm) == 0)
        return "?";
    return buf;
}

// "/a/b/c" -> "/a/b"; "/c" -> "/".
std::string path_dirname(const std::string& path)
{
    std::size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// "/a/b/c" -> "c".
std::string path_basename(const std::string& path)
{
    std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// log_open + log_encode + log_write, then syslog; failures are warnings.
void cli_log_event(const tg::CompiledPolicy& c, tg::DecisionRecord r, std::string_view command)
{
    r.pid = ::getpid();
    if (r.uid < 0)
        r.uid = ::getuid();
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tg::Result<tg::UniqueFd> fd = tg::log_open(c.log);
    struct stat st {};
    // Root passes every permission check, so the CLI also insists that the
    // file is the log reload made (group gate): a `set log` typo naming some
    // other root file must not get JSON lines appended to it.
    if (fd && (::fstat(fd->get(), &st) != 0 || st.st_gid != c.gate_gid))
        fd = tg::fail("log-unavailable", 0, c.log, "not the decision log (its group is not the gate)");
    tg::Result<void> wrote = fd ? tg::log_write(fd->get(), tg::log_encode(r, ts))
                                : tg::Result<void>(std::unexpected(fd.error()));
    if (!wrote)
        err_line(command, "warning: cannot write the decision log: " + wrote.error().message());
    if (c.syslog)
        tg::log_syslog(r);
}

// unsetenv("TZ") + tzset(), keeping the old value.
void time_zone_system_use()
{
    if (const char* tz = std::getenv("TZ"))
        caller_tz_slot() = tz;
    ::unsetenv("TZ");
    ::tzset();
}

const std::optional<std::string>& caller_time_zone()
{
    return caller_tz_slot();
}

// Real and effective uid 0.
bool caller_is_root()
{
    return ::getuid() == 0 && ::geteuid() == 0;
}

}  // namespace tgcli
