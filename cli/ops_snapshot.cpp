#include "ops_snapshot.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>

#include "tmux_exec.hpp"

namespace tgcli {

namespace {

constexpr std::size_t kMaxText = 256;
constexpr std::size_t kMaxClientName = 64;
constexpr std::uint64_t kMaxPid = 1U << 22U;      // PID_MAX_LIMIT
constexpr std::uint64_t kMaxUid = 0xfffffffeULL;  // (uid_t)-1 is never an account
constexpr std::size_t kTimeDigits = 11;           // seconds until the year 5138

// The three formats, tab-separated; the first field names the record.
constexpr const char* kClientFormat =
    "C\t#{client_uid}\t#{client_user}\t#{client_readonly}\t#{client_created}\t"
    "#{client_activity}\t#{client_pid}\t#{client_name}\t#{client_tty}\t#{session_id}\t"
    "#{session_name}";
constexpr std::size_t kClientFields = 11;
constexpr const char* kSessionFormat =
    "S\t#{session_id}\t#{session_attached}\t#{session_created}\t#{session_activity}\t"
    "#{session_name}";
constexpr std::size_t kSessionFields = 6;
constexpr const char* kWindowFormat = "W\t#{session_id}\t#{window_id}\t#{window_activity}";
constexpr std::size_t kWindowFields = 4;

// Decimal digits only (no sign, no blank), at most `digits` of them, <= max.
std::optional<std::uint64_t> number_parse(std::string_view s, std::size_t digits, std::uint64_t max)
{
    if (s.empty() || s.size() > digits)
        return std::nullopt;
    std::uint64_t n = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9')
            return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    return n <= max ? std::optional<std::uint64_t>(n) : std::nullopt;
}

// A time in seconds since the epoch.
std::optional<std::time_t> time_parse(std::string_view s)
{
    std::optional<std::uint64_t> n = number_parse(s, kTimeDigits, 99999999999ULL);
    return n ? std::optional<std::time_t>(static_cast<std::time_t>(*n)) : std::nullopt;
}

// "$N" (session) or "@N" (window).
bool id_is_valid(std::string_view s, char sigil)
{
    return s.size() >= 2 && s[0] == sigil && number_parse(s.substr(1), 10, kMaxUid).has_value();
}

// A tty path or "client-PID": [A-Za-z0-9/._-]{1,64}.
bool client_name_is_valid(std::string_view s)
{
    if (s.empty() || s.size() > kMaxClientName)
        return false;
    return std::all_of(s.begin(), s.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '/' || ch == '.' || ch == '_' || ch == '-';
    });
}

// Free text from the server: no control byte (C0 or DEL), at most kMaxText.
bool text_is_plain(std::string_view s)
{
    return s.size() <= kMaxText && std::none_of(s.begin(), s.end(), [](char ch) {
               auto u = static_cast<unsigned char>(ch);
               return u < 0x20 || u == 0x7f;
           });
}

// The tab-separated fields of one line.
std::vector<std::string_view> fields_split(std::string_view line)
{
    std::vector<std::string_view> f;
    std::size_t start = 0;
    while (true) {
        std::size_t tab = line.find('\t', start);
        f.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
        if (tab == std::string_view::npos)
            return f;
        start = tab + 1;
    }
}

// A "C" record; nullopt when any field is out of its set.
std::optional<SnapClient> client_parse(const std::vector<std::string_view>& f)
{
    if (f.size() != kClientFields)
        return std::nullopt;
    SnapClient cl;
    std::optional<std::uint64_t> uid = number_parse(f[1], 10, kMaxUid);
    std::optional<std::time_t> created = time_parse(f[4]);
    std::optional<std::time_t> activity = time_parse(f[5]);
    std::optional<std::uint64_t> pid = number_parse(f[6], 7, kMaxPid);
    if (!uid || !text_is_plain(f[2]) || (f[3] != "0" && f[3] != "1") || !created || !activity ||
        !pid || *pid == 0 || !client_name_is_valid(f[7]) ||
        (!f[8].empty() && !client_name_is_valid(f[8])) || !id_is_valid(f[9], '$') ||
        !text_is_plain(f[10]))
        return std::nullopt;
    cl.uid = static_cast<uid_t>(*uid);
    cl.user = f[2];
    cl.readonly = f[3] == "1";
    cl.created = *created;
    cl.activity = *activity;
    cl.pid = static_cast<pid_t>(*pid);
    cl.name = f[7];
    cl.tty = f[8];
    cl.session_id = f[9];
    cl.session = f[10];
    return cl;
}

// An "S" record.
std::optional<SnapSession> session_parse(const std::vector<std::string_view>& f)
{
    if (f.size() != kSessionFields)
        return std::nullopt;
    std::optional<std::uint64_t> attached = number_parse(f[2], 7, 1000000);
    std::optional<std::time_t> created = time_parse(f[3]);
    std::optional<std::time_t> activity = time_parse(f[4]);
    if (!id_is_valid(f[1], '$') || !attached || !created || !activity || f[5].empty() ||
        !text_is_plain(f[5]))
        return std::nullopt;
    return SnapSession{std::string(f[1]), std::string(f[5]), static_cast<unsigned>(*attached),
                       *created, *activity};
}

// A "W" record: its activity raises its session's. A window of a session
// not listed (none should be) is ignored: it could only keep a session.
bool window_apply(const std::vector<std::string_view>& f, std::map<std::string, std::time_t>& act)
{
    if (f.size() != kWindowFields || !id_is_valid(f[1], '$') || !id_is_valid(f[2], '@'))
        return false;
    std::optional<std::time_t> t = time_parse(f[3]);
    if (!t)
        return false;
    std::time_t& cur = act[std::string(f[1])];
    cur = std::max(cur, *t);
    return true;
}

// One line into `snap` / `windows`; false when it is not a valid record.
bool line_apply(std::string_view line, ServerSnapshot& snap, std::map<std::string, std::time_t>& windows)
{
    std::vector<std::string_view> f = fields_split(line);
    if (f[0] == "C") {
        std::optional<SnapClient> cl = client_parse(f);
        if (cl)
            snap.clients.push_back(std::move(*cl));
        return cl.has_value();
    }
    if (f[0] == "S") {
        std::optional<SnapSession> se = session_parse(f);
        if (se)
            snap.sessions.push_back(std::move(*se));
        return se.has_value();
    }
    return f[0] == "W" && window_apply(f, windows);
}

}  // namespace

// Line by line, strictly (contract in the header).
tg::Result<ServerSnapshot> snapshot_parse(std::string_view out)
{
    ServerSnapshot snap;
    std::map<std::string, std::time_t> windows;
    std::size_t pos = 0;
    std::size_t lines = 0;
    while (pos < out.size()) {
        std::size_t end = out.find('\n', pos);
        if (end == std::string_view::npos)
            return tg::fail("tmux-output-invalid", 0, {}, "output does not end in a newline");
        std::string_view line = out.substr(pos, end - pos);
        if (++lines > kSnapMaxLines)
            return tg::fail("tmux-output-invalid", 0, {}, "more than 20000 lines");
        if (!line_apply(line, snap, windows))
            return tg::fail("tmux-output-invalid", 0, {},
                            "unexpected line: " + std::string(line.substr(0, 120)));
        pos = end + 1;
    }
    for (SnapSession& se : snap.sessions) {
        if (auto it = windows.find(se.id); it != windows.end())
            se.activity = std::max(se.activity, it->second);
    }
    return snap;
}

// One tmux invocation with three commands, as the owner.
tg::Result<ServerSnapshot> snapshot_read(const tg::CompiledPolicy& c, const tg::CompiledShare& s,
                                         const Account& owner)
{
    const std::vector<std::string> args = {"list-clients", "-F", kClientFormat,
                                           ";", "list-sessions", "-F", kSessionFormat,
                                           ";", "list-windows", "-a", "-F", kWindowFormat};
    tg::Result<TmuxResult> r = tmux_run_as(c.tmux, s, owner, args, TmuxStart::never);
    if (!r)
        return std::unexpected(r.error());
    if (r->status != 0) {
        std::string why = r->err.empty() ? r->out : r->err;
        while (!why.empty() && why.back() == '\n')
            why.pop_back();
        return tg::fail("tmux-failed", 0, {},
                        "tmux failed (status " + std::to_string(r->status) + "): " +
                            why.substr(0, 200));
    }
    return snapshot_parse(r->out);
}

}  // namespace tgcli
