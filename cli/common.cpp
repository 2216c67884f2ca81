#include "cli.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
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

// Whether `list` holds `name`.
bool option_known(const std::vector<std::string_view>& list, std::string_view name)
{
    return std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace

// Options anywhere, "--" ends them, unknown or repeated options are usage errors.
tg::Result<Args> args_parse(const std::vector<std::string>& argv, OptionSpec spec)
{
    Args a;
    bool options_done = false;
    auto twice = [](std::string_view name) {
        return tg::fail("usage", 0, {}, "option " + std::string(name) + " given twice");
    };
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& s = argv[i];
        if (options_done || s.empty() || s[0] != '-' || s == "-") {
            a.operands.push_back(s);
            continue;
        }
        if (s == "--") {
            options_done = true;
            continue;
        }
        std::size_t eq = s.find('=');
        std::string name = s.substr(0, eq);
        bool takes_value = (spec.at && name == "--at") || option_known(spec.values, name);
        if (spec.json && s == "--json") {
            if (a.json)
                return twice(s);
            a.json = true;
        } else if (option_known(spec.flags, s)) {
            if (!a.flags.insert(s).second)
                return twice(s);
        } else if (takes_value) {
            std::string value;
            if (eq != std::string::npos)
                value = s.substr(eq + 1);
            else if (i + 1 < argv.size())
                value = argv[++i];
            else
                return tg::fail("usage", 0, {}, "option " + text_safe(name) + " needs a value");
            if (name == "--at") {
                if (a.at)
                    return twice(name);
                a.at = value;
            } else if (!a.values.emplace(name, value).second) {
                return twice(name);
            }
        } else {
            return tg::fail("usage", 0, {}, "unknown option '" + text_safe(s) + "'");
        }
    }
    return a;
}

// NUMBER UNIT pairs, summed; every failure is a usage error.
tg::Result<std::chrono::seconds> duration_parse(std::string_view text)
{
    constexpr long long kMax = 366LL * 24 * 3600;
    auto bad = [&](const std::string& why) {
        return tg::fail("usage", 0, {},
                        "invalid duration '" + text_safe(text) + "': " + why +
                            " (want e.g. 90s, 30m, 1h30m, 2d)");
    };
    if (text.empty())
        return bad("empty");
    long long total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        long long n = 0;
        std::size_t digits = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
            n = n * 10 + (text[i] - '0');
            if (n > kMax)
                return bad("too long (at most 366 days)");
        }
        if (digits == 0)
            return bad("a number must come first");
        if (i == text.size())
            return bad("a number needs a unit (s, m, h, d, w)");
        long long unit = 0;
        switch (text[i++]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return bad("unknown unit");
        }
        total += n * unit;
        if (total > kMax)
            return bad("too long (at most 366 days)");
    }
    if (total < 1)
        return bad("must be at least 1s");
    return std::chrono::seconds(total);
}

// The largest unit that fits and the one below it, e.g. 5400 s -> "1h30m".
std::string duration_format(std::chrono::seconds d)
{
    constexpr long long kSize[] = {86400, 3600, 60, 1};
    constexpr char kName[] = {'d', 'h', 'm', 's'};
    long long s = std::max<long long>(d.count(), 0);
    std::size_t first = 0;
    while (first + 1 < std::size(kSize) && s < kSize[first])
        ++first;
    std::string out = std::to_string(s / kSize[first]) + kName[first];
    if (first + 1 < std::size(kSize) && (s % kSize[first]) / kSize[first + 1] != 0)
        out += std::to_string((s % kSize[first]) / kSize[first + 1]) + kName[first + 1];
    return out;
}

// Column widths over header and rows, then one line each.
void table_print(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows)
{
    std::vector<std::vector<std::string>> all;
    all.reserve(rows.size() + 1);
    all.push_back(header);
    for (const auto& r : rows)
        all.push_back(r);
    std::vector<std::size_t> width;
    for (auto& r : all) {
        for (std::size_t c = 0; c < r.size(); ++c) {
            r[c] = text_safe(r[c]);
            if (width.size() <= c)
                width.resize(c + 1, 0);
            width[c] = std::max(width[c], r[c].size());
        }
    }
    for (const auto& r : all) {
        std::string line;
        for (std::size_t c = 0; c < r.size(); ++c) {
            line += r[c];
            if (c + 1 < r.size())
                line.append(width[c] - r[c].size() + 2, ' ');
        }
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
    }
}

// One sanitised line on stdout.
void out_line(std::string_view s)
{
    std::string line = text_safe(s);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
}

// write() until done (EINTR retried); reason "path-error".
tg::Result<void> fd_write_all(int fd, const std::string& data, const std::string& shown)
{
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return tg::fail("path-error", errno, shown, "write");
        done += static_cast<std::size_t>(n);
    }
    return {};
}

// A JSON line, unfiltered: every string in it went through json_quote().
void json_out_line(std::string_view json)
{
    std::string line(json);
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

// log_files_open + log_append (the hash chain), then syslog with the
// record's hash; failures are warnings.
void cli_log_event(const tg::CompiledPolicy& c, tg::DecisionRecord r, std::string_view command)
{
    r.pid = ::getpid();
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tg::Result<tg::LogFiles> files = tg::log_files_open(c.log);
    // Root passes every permission check, so the CLI also insists that the
    // files are the log and head reload made (group gate): a `set log` typo
    // naming some other root file must not get JSON lines appended to it.
    auto gate_group = [&](const tg::UniqueFd& fd) {
        struct stat st {};
        return ::fstat(fd.get(), &st) == 0 && st.st_gid == c.gate_gid;
    };
    if (files && (!gate_group(files->log) || !gate_group(files->head)))
        files = tg::fail("log-unavailable", 0, c.log,
                         "not the decision log (its group, or its head's, is not the gate)");
    tg::Result<std::string> hash = files ? tg::log_append(*files, r, ts)
                                         : tg::Result<std::string>(std::unexpected(files.error()));
    if (!hash)
        err_line(command, "warning: cannot write the decision log: " + hash.error().message());
    if (c.syslog)
        tg::log_syslog(r, hash ? std::string_view(*hash) : std::string_view());
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
