// The policy language: tokenizer, directive parsers, whole-policy checks and
// the loader that reads policy.conf and policy.d/*.conf through trusted paths.
//
// Contract:
//  1. a line is never skipped silently: anything not understood is an error
//     "FILE:LINE: message", and one error makes the whole policy invalid;
//  2. every piece of user text echoed in a message is cut to 64 bytes and
//     has its non-printable bytes written as \xNN, so no message carries a
//     control byte to a terminal or a log;
//  3. every file is opened with open_trusted_file(), and the drop-in
//     directory is checked before it is listed, so a directory someone else
//     can write cannot hide or add a file.
#include "tmuxguard/policy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <map>

#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/paths.hpp"

namespace tg {

namespace {

constexpr std::size_t kMaxLine = 4096;
constexpr std::size_t kMaxEcho = 64;
constexpr std::size_t kMaxPolicyFile = 16 * 1024 * 1024;
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

// User text made safe for a message: non-printable bytes as \xNN.
std::string text_escape(std::string_view s)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (char c : s) {
        auto b = static_cast<unsigned char>(c);
        if (b >= 0x20 && b < 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 0xf];
        }
    }
    return out;
}

// Where a directive came from, and the policy its errors go to.
struct LineCtx {
    Policy& policy;
    std::string_view file;
    int line;

    void error(const std::string& message) const { policy_error_add(policy, file, line, message); }
};

// The first problem with a raw line's bytes, or nullptr.
const char* line_bytes_problem(std::string_view line)
{
    if (line.size() > kMaxLine)
        return "line too long";
    for (char c : line) {
        auto b = static_cast<unsigned char>(c);
        if ((b < 0x20 && c != '\t') || b == 0x7f)
            return "control character in line";
    }
    return nullptr;
}

// Splits a line on blanks; a token starting with '#' ends the line.
std::vector<std::string_view> line_tokens(std::string_view line)
{
    std::vector<std::string_view> tokens;
    std::size_t pos = 0;
    while (pos < line.size()) {
        if (line[pos] == ' ' || line[pos] == '\t') {
            ++pos;
            continue;
        }
        if (line[pos] == '#')
            break;
        std::size_t end = line.find_first_of(" \t", pos);
        if (end == std::string_view::npos)
            end = line.size();
        tokens.push_back(line.substr(pos, end - pos));
        pos = end;
    }
    return tokens;
}

// "HH:MM" -> minutes; "24:00" only when allow_end_of_day.
bool clock_parse(std::string_view s, bool allow_end_of_day, int& minutes)
{
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (s.size() != 5 || s[2] != ':' || !digit(s[0]) || !digit(s[1]) || !digit(s[3]) ||
        !digit(s[4]))
        return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_end_of_day)))
        return false;
    minutes = h * 60 + m;
    return true;
}

enum class HoursStatus : std::uint8_t { bad_format, empty_window, ok };

HoursStatus hours_parse(std::string_view s, int& from, int& to)
{
    if (s.size() != 11 || s[5] != '-')
        return HoursStatus::bad_format;
    int f = 0;
    int t = 0;
    if (!clock_parse(s.substr(0, 5), false, f) || !clock_parse(s.substr(6), true, t))
        return HoursStatus::bad_format;
    if (f == t)
        return HoursStatus::empty_window;
    from = f;
    to = t;
    return HoursStatus::ok;
}

// "mon" -> 1 (bit index, Sunday = 0), or -1.
int day_index(std::string_view s)
{
    for (std::size_t i = 0; i < kDayNames.size(); ++i) {
        if (kDayNames[i] == s)
            return static_cast<int>(i);
    }
    return -1;
}

// One item of a day list: "mon" or a range "fri-mon" (ranges may wrap).
bool days_item_parse(std::string_view item, std::uint8_t& mask)
{
    std::size_t dash = item.find('-');
    int first = day_index(item.substr(0, dash));
    int last = dash == std::string_view::npos ? first : day_index(item.substr(dash + 1));
    if (first < 0 || last < 0)
        return false;
    for (int d = first;; d = (d + 1) % 7) {
        mask = static_cast<std::uint8_t>(mask | (1u << d));
        if (d == last)
            break;
    }
    return true;
}

enum class TimeStatus : std::uint8_t { bad_format, bad_date, ok };

bool year_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Strict "YYYY-MM-DDTHH:MM" into a struct tm (tm_isdst = -1), range-checked.
TimeStatus local_time_fields(std::string_view s, struct tm& out)
{
    static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd";
    if (s.size() != kShape.size())
        return TimeStatus::bad_format;
    for (std::size_t i = 0; i < s.size(); ++i) {
        bool is_digit = s[i] >= '0' && s[i] <= '9';
        if (kShape[i] == 'd' ? !is_digit : s[i] != kShape[i])
            return TimeStatus::bad_format;
    }
    auto num = [s](std::size_t pos, std::size_t len) {
        int v = 0;
        for (std::size_t i = pos; i < pos + len; ++i)
            v = v * 10 + (s[i] - '0');
        return v;
    };
    int year = num(0, 4), month = num(5, 2), day = num(8, 2), hour = num(11, 2), minute = num(14, 2);
    static constexpr std::array<int, 12> kMonthDays = {31, 28, 31, 30, 31, 30,
                                                       31, 31, 30, 31, 30, 31};
    if (year < 1970 || month < 1 || month > 12 || hour > 23 || minute > 59)
        return TimeStatus::bad_date;
    int month_days = kMonthDays[static_cast<std::size_t>(month - 1)] +
                     (month == 2 && year_is_leap(year) ? 1 : 0);
    if (day < 1 || day > month_days)
        return TimeStatus::bad_date;
    out = {};
    out.tm_year = year - 1900;
    out.tm_mon = month - 1;
    out.tm_mday = day;
    out.tm_hour = hour;
    out.tm_min = minute;
    out.tm_isdst = -1;
    return TimeStatus::ok;
}

TimeStatus local_time_parse(std::string_view s, std::int64_t& epoch)
{
    struct tm tm {};
    TimeStatus st = local_time_fields(s, tm);
    if (st != TimeStatus::ok)
        return st;
    errno = 0;
    std::time_t t = std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1) && errno != 0)
        return TimeStatus::bad_date;
    epoch = static_cast<std::int64_t>(t);
    return TimeStatus::ok;
}

// `set log|tmux|runtime-dir PATH`, `set syslog on|off`.
void directive_set(const LineCtx& ctx, const std::vector<std::string_view>& tok)
{
    if (tok.size() < 2)
        return ctx.error("set needs a setting and a value");
    std::string_view key = tok[1];
    Settings& s = ctx.policy.settings;
    if (key == "syslog") {
        if (tok.size() != 3 || (tok[2] != "on" && tok[2] != "off"))
            return ctx.error("set syslog takes on or off");
        s.syslog = tok[2] == "on";
        return;
    }
    std::string* target = key == "log" ? &s.log
                          : key == "tmux" ? &s.tmux
                          : key == "runtime-dir" ? &s.runtime_dir
                                                 : nullptr;
    if (target == nullptr)
        return ctx.error("unknown setting " + policy_quote(key));
    if (tok.size() != 3)
        return ctx.error("set " + std::string(key) + " takes one path");
    if (!name_is_clean_abs_path(tok[2]))
        return ctx.error(std::string(key) + " path must be absolute and clean");
    *target = std::string(tok[2]);
}

// `share NAME owner USER [socket PATH]`.
void directive_share(const LineCtx& ctx, const std::vector<std::string_view>& tok)
{
    if (tok.size() < 2)
        return ctx.error("share needs a name");
    if (!name_is_valid_share(tok[1]))
        return ctx.error("share name " + policy_quote(tok[1]) + " is invalid");
    if (tok.size() < 4 || tok[2] != "owner")
        return ctx.error("share needs 'owner USER'");
    if (!name_is_valid_account(tok[3]))
        return ctx.error("user name " + policy_quote(tok[3]) + " is invalid");
    ShareDef def{std::string(tok[1]), std::string(tok[3]), {}, std::string(ctx.file), ctx.line};
    if (tok.size() > 4) {
        if (tok[4] != "socket")
            return ctx.error("unexpected " + policy_quote(tok[4]) + " after share owner");
        if (tok.size() != 6)
            return ctx.error("socket takes one path");
        if (!name_is_clean_abs_path(tok[5]))
            return ctx.error("socket path must be absolute and clean");
        def.socket = std::string(tok[5]);
    }
    ctx.policy.shares.push_back(std::move(def));
}

// WHO: `user`, `:group` or `*`.
bool who_parse(const LineCtx& ctx, std::string_view who, Rule& rule)
{
    if (who == "*") {
        rule.who_kind = WhoKind::any;
        return true;
    }
    bool group = who.starts_with(':');
    std::string_view name = group ? who.substr(1) : who;
    if (!name_is_valid_account(name)) {
        ctx.error(std::string(group ? "group" : "user") + " name " + policy_quote(name) +
                  " is invalid");
        return false;
    }
    rule.who_kind = group ? WhoKind::group : WhoKind::user;
    rule.who = std::string(name);
    return true;
}

// The common part of permit and deny: `WHO on SHARE|*` at tok[first].
bool target_parse(const LineCtx& ctx, const std::vector<std::string_view>& tok,
                  std::size_t first, Rule& rule)
{
    std::string_view verb = tok[0];
    if (tok.size() <= first) {
        ctx.error(std::string(verb) + " needs a user, :group or *");
        return false;
    }
    if (!who_parse(ctx, tok[first], rule))
        return false;
    if (tok.size() < first + 3 || tok[first + 1] != "on") {
        ctx.error(std::string(verb) + " needs 'on SHARE'");
        return false;
    }
    std::string_view share = tok[first + 2];
    if (share != "*" && !name_is_valid_share(share)) {
        ctx.error("share name " + policy_quote(share) + " is invalid");
        return false;
    }
    rule.share = std::string(share);
    rule.file = std::string(ctx.file);
    rule.line = ctx.line;
    return true;
}

// One `hours|days|until VALUE` option of a permit rule.
bool option_apply(const LineCtx& ctx, std::string_view key, std::string_view value, TimeCond& when)
{
    if (key == "hours") {
        HoursStatus st = hours_parse(value, when.minute_from, when.minute_to);
        if (st == HoursStatus::bad_format)
            ctx.error("hours " + policy_quote(value) + " is not HH:MM-HH:MM");
        else if (st == HoursStatus::empty_window)
            ctx.error("hours " + policy_quote(value) + " is an empty window");
        return st == HoursStatus::ok;
    }
    if (key == "days") {
        if (!policy_parse_days(value, when.days)) {
            ctx.error("days " + policy_quote(value) + " is not a day list such as mon-fri or mon,wed");
            return false;
        }
        return true;
    }
    std::int64_t epoch = 0;
    TimeStatus st = local_time_parse(value, epoch);
    if (st == TimeStatus::bad_format)
        ctx.error("until " + policy_quote(value) + " is not YYYY-MM-DDTHH:MM");
    else if (st == TimeStatus::bad_date)
        ctx.error("until " + policy_quote(value) + " is not a valid date and time");
    when.until_text = std::string(value);
    return st == TimeStatus::ok;
}

// The options after `on SHARE`, in any order, each at most once.
bool options_parse(const LineCtx& ctx, const std::vector<std::string_view>& tok,
                   std::size_t first, TimeCond& when)
{
    std::array<bool, 3> seen{};
    static constexpr std::array<std::string_view, 3> kKeys = {"hours", "days", "until"};
    for (std::size_t i = first; i < tok.size(); i += 2) {
        auto it = std::find(kKeys.begin(), kKeys.end(), tok[i]);
        if (it == kKeys.end()) {
            ctx.error("unknown option " + policy_quote(tok[i]));
            return false;
        }
        auto k = static_cast<std::size_t>(it - kKeys.begin());
        if (seen[k]) {
            ctx.error("option " + policy_quote(tok[i]) + " given twice");
            return false;
        }
        seen[k] = true;
        if (i + 1 >= tok.size()) {
            ctx.error("option " + policy_quote(tok[i]) + " needs a value");
            return false;
        }
        if (!option_apply(ctx, tok[i], tok[i + 1], when))
            return false;
    }
    return true;
}

// `permit view|interact WHO on SHARE|* [hours ..] [days ..] [until ..]`.
void directive_permit(const LineCtx& ctx, const std::vector<std::string_view>& tok)
{
    Rule rule;
    rule.kind = RuleKind::permit;
    if (tok.size() < 2)
        return ctx.error("permit needs view or interact");
    if (tok[1] == "view")
        rule.mode = Mode::view;
    else if (tok[1] == "interact")
        rule.mode = Mode::interact;
    else
        return ctx.error("permit mode " + policy_quote(tok[1]) + " is not view or interact");
    if (!target_parse(ctx, tok, 2, rule) || !options_parse(ctx, tok, 5, rule.when))
        return;
    ctx.policy.rules.push_back(std::move(rule));
}

// `deny WHO on SHARE|*` (no options: a deny holds at all times).
void directive_deny(const LineCtx& ctx, const std::vector<std::string_view>& tok)
{
    Rule rule;
    rule.kind = RuleKind::deny;
    if (!target_parse(ctx, tok, 1, rule))
        return;
    if (tok.size() > 4)
        return ctx.error("deny takes no options (found " + policy_quote(tok[4]) + ")");
    ctx.policy.rules.push_back(std::move(rule));
}

// One line: byte checks, tokens, dispatch on the directive keyword.
void line_parse(const LineCtx& ctx, std::string_view raw)
{
    if (const char* problem = line_bytes_problem(raw))
        return ctx.error(problem);
    std::vector<std::string_view> tok = line_tokens(raw);
    if (tok.empty())
        return;
    if (tok[0] == "set")
        directive_set(ctx, tok);
    else if (tok[0] == "share")
        directive_share(ctx, tok);
    else if (tok[0] == "permit")
        directive_permit(ctx, tok);
    else if (tok[0] == "deny")
        directive_deny(ctx, tok);
    else
        ctx.error("unknown directive " + policy_quote(tok[0]));
}

std::string source_of(std::string_view file, int line)
{
    return text_escape(file) + ":" + std::to_string(line);
}

// "FILE:0: message" for a problem with a whole file.
void file_error_add(Policy& p, const std::string& file, const std::string& message)
{
    policy_error_add(p, file, 0, message);
}

// Parses one file into `p`, or records why it could not be read.
void policy_file_load(const std::string& path, Policy& p)
{
    Result<std::string> text = read_trusted_file(path, kMaxPolicyFile);
    if (!text)
        return file_error_add(p, path, "cannot read policy: " + text_escape(text.error().message()));
    policy_parse_text(*text, path, p);
}

// The drop-in directory's entry names that count: "*.conf", not hidden.
Result<std::vector<std::string>> dropin_names_read(int dir_fd)
{
    DIR* d = ::fdopendir(dir_fd);
    if (d == nullptr) {
        int saved = errno;
        ::close(dir_fd);
        return fail("path-error", saved, {}, "cannot list directory");
    }
    std::vector<std::string> names;
    errno = 0;
    while (const struct dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n.size() > 5 && n.ends_with(".conf") && !n.starts_with('.'))
            names.emplace_back(n);
        errno = 0;
    }
    int saved = errno;
    ::closedir(d);
    if (saved != 0)
        return fail("path-error", saved, {}, "cannot list directory");
    std::sort(names.begin(), names.end());  // char_traits<char> compares bytes unsigned
    return names;
}

// Lists `dir` after checking it like a trusted file's directory (root-owned,
// not writable by group or other, every parent too). Missing: empty list.
Result<std::vector<std::string>> dropin_list(const std::string& dir)
{
    Result<UniqueFd> path_fd = trusted_dir_open(dir);
    if (!path_fd && path_fd.error().err == ENOENT)
        return std::vector<std::string>{};
    if (!path_fd)
        return std::unexpected(path_fd.error());
    UniqueFd fd(::openat(path_fd->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
        return fail("path-error", errno, dir, "cannot open directory");
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return fail("path-unsafe-dir", 0, dir, "not root-owned or writable by group or other");
    return dropin_names_read(fd.release());
}

}  // namespace

// "none", "view" or "interact".
std::string_view mode_name(Mode m)
{
    switch (m) {
    case Mode::view:
        return "view";
    case Mode::interact:
        return "interact";
    case Mode::none:
        break;
    }
    return "none";
}

// 'text', cut to 64 bytes, non-printable bytes as \xNN.
std::string policy_quote(std::string_view s)
{
    bool cut = s.size() > kMaxEcho;
    // Appended, not `"'" + ...`: g++ 12 -O3 warns (-Wrestrict) on that falsely.
    std::string out = "'";
    out += text_escape(s.substr(0, kMaxEcho));
    if (cut)
        out += "...";
    return out + "'";
}

// Appends "FILE:LINE: message".
void policy_error_add(Policy& p, std::string_view file, int line, const std::string& message)
{
    p.errors.push_back(text_escape(file) + ":" + std::to_string(line) + ": " + message);
}

// Built-in settings from paths.hpp; no shares, no rules.
Policy policy_defaults()
{
    Policy p;
    p.settings.log = paths::default_log;
    p.settings.syslog = true;
    p.settings.tmux = paths::default_tmux;
    p.settings.runtime_dir = paths::default_runtime_dir;
    return p;
}

// Parses every line of `text`; errors become "FILE:LINE: message".
void policy_parse_text(std::string_view text, std::string_view file, Policy& into)
{
    if (std::find(into.files.begin(), into.files.end(), file) == into.files.end())
        into.files.emplace_back(file);
    int line = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        ++line;
        line_parse(LineCtx{into, file, line}, text.substr(pos, end - pos));
        pos = end + 1;
    }
}

// Duplicate share names and sockets, rules naming an undefined share.
void policy_check_whole(Policy& p)
{
    std::map<std::string, const ShareDef*> by_name;
    std::map<std::string, const ShareDef*> by_socket;
    for (const ShareDef& s : p.shares) {
        auto [it, fresh] = by_name.emplace(s.name, &s);
        if (!fresh) {
            LineCtx{p, s.file, s.line}.error("duplicate share " + policy_quote(s.name) +
                                             " (first defined at " +
                                             source_of(it->second->file, it->second->line) + ")");
            continue;
        }
        if (s.socket.empty())
            continue;
        auto [sit, sfresh] = by_socket.emplace(s.socket, &s);
        if (!sfresh)
            LineCtx{p, s.file, s.line}.error("share " + policy_quote(s.name) +
                                             " uses the socket of share " +
                                             policy_quote(sit->second->name));
    }
    for (const Rule& r : p.rules) {
        if (r.share != "*" && by_name.find(r.share) == by_name.end())
            LineCtx{p, r.file, r.line}.error("rule names undefined share " + policy_quote(r.share));
    }
}

// policy.conf, then the drop-ins in byte order, then the whole-policy checks.
Policy policy_load(const std::string& conf, const std::string& dropin_dir)
{
    Policy p = policy_defaults();
    policy_file_load(conf, p);
    Result<std::vector<std::string>> names = dropin_list(dropin_dir);
    if (!names)
        file_error_add(p, dropin_dir,
                       "cannot read drop-in directory: " + text_escape(names.error().message()));
    for (const std::string& n : names.value_or(std::vector<std::string>{})) {
        std::string path = dropin_dir + "/" + n;
        if (!name_is_clean_abs_path(path))
            file_error_add(p, path, "file name must not contain blanks or control characters");
        else
            policy_file_load(path, p);
    }
    policy_check_whole(p);
    return p;
}

// "HH:MM-HH:MM", from 00:00-23:59, to 00:01-24:00, from != to.
bool policy_parse_hours(std::string_view s, int& from, int& to)
{
    return hours_parse(s, from, to) == HoursStatus::ok;
}

// "mon-fri", "mon,wed,fri", "fri-mon" (wraps); bit 0 = Sunday.
bool policy_parse_days(std::string_view s, std::uint8_t& mask)
{
    std::uint8_t m = 0;
    std::size_t pos = 0;
    for (;;) {
        std::size_t comma = s.find(',', pos);
        std::string_view item = s.substr(pos, comma == std::string_view::npos ? s.npos : comma - pos);
        if (!days_item_parse(item, m))
            return false;
        if (comma == std::string_view::npos)
            break;
        pos = comma + 1;
    }
    mask = m;
    return true;
}

// "YYYY-MM-DDTHH:MM" in local time (mktime, tm_isdst = -1) -> epoch seconds.
bool policy_parse_local_time(std::string_view s, std::int64_t& epoch)
{
    return local_time_parse(s, epoch) == TimeStatus::ok;
}

}  // namespace tg
