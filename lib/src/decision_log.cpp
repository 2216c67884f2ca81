// The decision log (decision_log.hpp): JSON-lines records and syslog lines.
#include "tmuxguard/decision_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "tmuxguard/log_chain.hpp"

namespace tg {
namespace {

// When a record with every field at kMaxField would exceed kMaxRecord (each
// input byte may grow to six when escaped), the fields are re-encoded with
// this smaller cap. Worst case then: 16 keys with quotes, colon and comma
// (16 bytes each at most), 10 string values (ts, event, decision, reason,
// share, mode, socket, tty, session, rule) of 6 * cap bytes plus "..." and
// quotes, 4 numbers of at most 20 bytes, the prev hash in quotes, and "{",
// "}", "\n".
constexpr std::size_t kFallbackField = 48;
static_assert(16 * 16 + 10 * (6 * kFallbackField + 5) + 4 * 20 + (kHashHex + 2) + 3 <= kMaxRecord,
              "the fallback cap must guarantee a record within kMaxRecord");

// Appends one byte that is not part of a valid multi-byte sequence: printable
// ASCII as itself (quote and backslash escaped), anything else as \u00XX.
void json_byte_append(std::string& out, unsigned char c)
{
    static constexpr char kHex[] = "0123456789abcdef";
    if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0x0f];
    } else {
        out += static_cast<char>(c);
    }
}

// Appends `"key":` after a comma unless it is the object's first member.
void json_key_append(std::string& out, std::string_view key)
{
    if (out.size() > 1)
        out += ',';
    out += '"';
    out += key;
    out += "\":";
}

void json_string_append(std::string& out, std::string_view key, std::string_view value,
                        std::size_t cap)
{
    json_key_append(out, key);
    out += '"';
    out += json_escape(value, cap);
    out += '"';
}

// An empty string means "unknown" and is written as null.
void json_optional_append(std::string& out, std::string_view key, std::string_view value,
                          std::size_t cap)
{
    if (value.empty()) {
        json_key_append(out, key);
        out += "null";
    } else {
        json_string_append(out, key, value, cap);
    }
}

// A negative id (-1 by convention) means "unknown" and is written as null.
void json_number_append(std::string& out, std::string_view key, long long value)
{
    json_key_append(out, key);
    out += value < 0 ? std::string("null") : std::to_string(value);
}

// The JSON line with every string capped at `cap` bytes, the detail only when
// asked for and non-empty. Field order is part of the record's shape.
std::string log_record_build(const DecisionRecord& r, const struct timespec& ts,
                             std::string_view prev, std::size_t cap, bool with_detail)
{
    std::string out = "{";
    json_string_append(out, "ts", log_timestamp(ts), cap);
    json_string_append(out, "event", r.event, cap);
    json_string_append(out, "decision", r.allow ? "allow" : "deny", cap);
    json_string_append(out, "reason", r.reason, cap);
    json_number_append(out, "uid", r.uid);
    json_string_append(out, "share", r.share, cap);
    json_string_append(out, "mode", r.mode, cap);
    json_number_append(out, "owner_uid", r.owner_uid);
    json_optional_append(out, "socket", r.socket, cap);
    json_number_append(out, "server_pid", r.server_pid);
    json_number_append(out, "pid", r.pid);
    json_optional_append(out, "tty", r.tty, cap);
    json_optional_append(out, "session", r.session, cap);
    json_optional_append(out, "rule", r.rule, cap);
    if (with_detail && !r.detail.empty())
        json_string_append(out, "detail", r.detail, cap);
    if (!prev.empty())  // never cut: the chain's link
        json_string_append(out, "prev", prev, kHashHex);
    out += "}\n";
    return out;
}

// Appends ` key=value` (value escaped, quoted when `quoted`), skipping an
// empty value.
void syslog_pair_append(std::string& out, std::string_view key, std::string_view value,
                        std::size_t cap, bool quoted)
{
    if (value.empty())
        return;
    if (!out.empty())
        out += ' ';
    out += key;
    out += quoted ? "=\"" : "=";
    out += json_escape(value, cap);
    if (quoted)
        out += '"';
}

// Appends ` key=N`, skipping an unknown (negative) number.
void syslog_number_append(std::string& out, std::string_view key, long long value)
{
    if (value >= 0)
        syslog_pair_append(out, key, std::to_string(value), kMaxField, false);
}

// The syslog text: fixed codes bare, user-influenced strings quoted, the
// record's hash last.
std::string log_syslog_build(const DecisionRecord& r, std::string_view sha256, std::size_t cap,
                             bool with_detail)
{
    std::string out;
    syslog_pair_append(out, "decision", r.allow ? "allow" : "deny", cap, false);
    syslog_pair_append(out, "reason", r.reason, cap, false);
    syslog_number_append(out, "uid", r.uid);
    syslog_pair_append(out, "share", r.share, cap, true);
    syslog_pair_append(out, "mode", r.mode, cap, false);
    syslog_pair_append(out, "event", r.event, cap, false);
    syslog_number_append(out, "owner_uid", r.owner_uid);
    syslog_pair_append(out, "socket", r.socket, cap, true);
    syslog_number_append(out, "server_pid", r.server_pid);
    syslog_number_append(out, "pid", r.pid);
    syslog_pair_append(out, "tty", r.tty, cap, true);
    syslog_pair_append(out, "session", r.session, cap, true);
    syslog_pair_append(out, "rule", r.rule, cap, true);
    if (with_detail)
        syslog_pair_append(out, "detail", r.detail, cap, true);
    syslog_pair_append(out, "sha256", sha256, kHashHex, false);
    return out;
}

// Builds a line with `build(cap, with_detail)` and keeps it within
// kMaxRecord: first everything, then without the detail, then with the
// fallback cap (which the static_assert above proves is enough).
template <class Build>
std::string log_line_fit(Build build)
{
    std::string line = build(kMaxField, true);
    if (line.size() > kMaxRecord)
        line = build(kMaxField, false);
    if (line.size() > kMaxRecord)
        line = build(kFallbackField, false);
    return line;
}

// Why an opened log file must not be used, or nullptr when it may.
const char* log_file_refusal(const struct stat& st)
{
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    if (st.st_nlink != 1)
        return "has more than one link";
    if (st.st_uid != 0)
        return "not owned by root";
    if ((st.st_mode & S_IWOTH) != 0)
        return "writable by other";
    return nullptr;
}

// Refuses to write under any finite RLIMIT_FSIZE. A limit lets the kernel
// write part of a line (SIGXFSZ ignored) and concurrent O_APPEND writers move
// the end of the file between any check and the write, so no size check can
// make it safe: a caller-set limit could bury a record. The wrapper raises the
// soft limit to the hard one first; a finite hard limit means no record.
Result<void> log_size_limit_check()
{
    struct rlimit lim {};
    if (::getrlimit(RLIMIT_FSIZE, &lim) != 0)
        return fail("log-unavailable", errno, {}, "getrlimit");
    if (lim.rlim_cur != RLIM_INFINITY)
        return fail("log-unavailable", EFBIG, {}, "a file size limit is set; it could cut the record");
    return {};
}

}  // namespace

// RFC 3629, byte by byte (decision_log.hpp).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i)
{
    auto byte = [&s](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char lead = byte(i);
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    std::size_t len = 0;
    if (lead >= 0xc2 && lead <= 0xdf)
        len = 2;
    else if (lead >= 0xe0 && lead <= 0xef)
        len = 3;
    else if (lead >= 0xf0 && lead <= 0xf4)
        len = 4;
    else
        return 0;
    if (lead == 0xe0)
        lo = 0xa0;  // overlong below U+0800
    else if (lead == 0xed)
        hi = 0x9f;  // U+D800..U+DFFF are surrogates
    else if (lead == 0xf0)
        lo = 0x90;  // overlong below U+10000
    else if (lead == 0xf4)
        hi = 0x8f;  // above U+10FFFF
    if (s.size() - i < len || byte(i + 1) < lo || byte(i + 1) > hi)
        return 0;
    for (std::size_t k = 2; k < len; ++k)
        if ((byte(i + k) & 0xc0) != 0x80)
            return 0;
    return len;
}

// RFC 3339 UTC with microseconds; "invalid-time" when the year overflows.
std::string log_timestamp(const struct timespec& ts)
{
    struct tm tm {};
    time_t secs = ts.tv_sec;
    char date[64];
    if (::gmtime_r(&secs, &tm) == nullptr)
        return "invalid-time";
    std::size_t n = std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0)
        return "invalid-time";
    long usec = ts.tv_nsec < 0 || ts.tv_nsec > 999'999'999 ? 0 : ts.tv_nsec / 1000;
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06ldZ", usec);
    return std::string(date, n) + frac;
}

// Escapes a JSON string body, keeping valid UTF-8 and never cutting it.
std::string json_escape(std::string_view s, std::size_t cap)
{
    std::string out;
    out.reserve(std::min(s.size(), cap) + 3);
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t seq = c < 0x80 ? 0 : utf8_sequence_length(s, i);
        std::size_t take = seq == 0 ? 1 : seq;
        if (i + take > cap)
            break;
        if (seq == 0)
            json_byte_append(out, c);
        else if (seq == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0)
            json_byte_append(out, static_cast<unsigned char>(s[i + 1]));  // C1 control, as \u00XX
        else
            out.append(s.substr(i, seq));
        i += take;
    }
    if (i < s.size())
        out += "...";
    return out;
}

// One JSON line per record, never longer than kMaxRecord.
std::string log_encode(const DecisionRecord& r, const struct timespec& ts, std::string_view prev)
{
    return log_line_fit([&](std::size_t cap, bool with_detail) {
        return log_record_build(r, ts, prev, cap, with_detail);
    });
}

// Contract of log_open and log_head_open (decision_log.hpp, clause 3: no
// usable log, no access):
//  1. never create the file (no O_CREAT): `tmuxguard reload` creates it;
//  2. never follow a symlink in the last component (O_NOFOLLOW);
//  3. never block: O_NONBLOCK, so a FIFO planted at the path cannot hang us;
//  4. judge the opened descriptor with fstat: a regular file with one link,
//     owned by root, not writable by other.
namespace {
Result<UniqueFd> log_file_open(const std::string& path, int flags)
{
    UniqueFd fd(::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid())
        return fail("log-unavailable", errno, path, "cannot open");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return fail("log-unavailable", errno, path, "fstat");
    if (const char* why = log_file_refusal(st); why != nullptr)
        return fail("log-unavailable", 0, path, why);
    return fd;
}
}  // namespace

// Read and write: the writer reads the tail it links to (log_chain.hpp).
Result<UniqueFd> log_open(const std::string& path)
{
    return log_file_open(path, O_RDWR | O_APPEND);
}

Result<UniqueFd> log_head_open(const std::string& path)
{
    return log_file_open(path, O_RDWR);
}

Result<LogFiles> log_files_open(const std::string& log_path)
{
    LogFiles files;
    auto log = log_open(log_path);
    if (!log)
        return std::unexpected(log.error());
    auto head = log_head_open(log_head_path(log_path));
    if (!head)
        return std::unexpected(head.error());
    files.log = std::move(*log);
    files.head = std::move(*head);
    return files;
}

// One write() for the whole line; anything less is an error.
Result<void> log_write(int fd, std::string_view line)
{
    if (line.empty())
        return fail("log-unavailable", 0, {}, "empty record");
    if (auto room = log_size_limit_check(); !room)
        return room;
    ssize_t n = 0;
    do {
        n = ::write(fd, line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return fail("log-unavailable", errno, {}, "write");
    if (static_cast<std::size_t>(n) != line.size())
        return fail("log-unavailable", 0, {}, "short write");
    return {};
}

// The syslog text of a record, within kMaxRecord bytes.
std::string log_syslog_format(const DecisionRecord& r, std::string_view sha256)
{
    return log_line_fit([&](std::size_t cap, bool with_detail) {
        return log_syslog_build(r, sha256, cap, with_detail);
    });
}

// Sends the record to syslog (LOG_AUTHPRIV); the text is never a format.
void log_syslog(const DecisionRecord& r, std::string_view sha256)
{
    static const bool opened = [] {
        ::openlog("tmuxguard", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
        return true;
    }();
    (void)opened;
    ::syslog(r.allow ? LOG_NOTICE : LOG_WARNING, "%s", log_syslog_format(r, sha256).c_str());
}

namespace {

// The last `n` bytes before `size` (one pread; EINTR retried).
Result<std::string> log_tail_read(int fd, std::uint64_t size, std::size_t n)
{
    std::string buf(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(size - n + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return fail("log-unavailable", r < 0 ? errno : 0, {}, "read the log's tail");
        got += static_cast<std::size_t>(r);
    }
    return buf;
}

// What the writer knows of the log under its lock: identity, size, and as
// much of the tail as log_link_plan() needs (one byte in the common case;
// more only when that byte is not '\n').
Result<std::pair<LogFileState, std::string>> log_state_read(int fd, const LogHead& head)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return fail("log-unavailable", errno, {}, "fstat");
    LogFileState file{st.st_dev, st.st_ino, static_cast<std::uint64_t>(st.st_size), {}};
    std::size_t n = log_link_tail_bytes(head, file.dev, file.ino, file.size);
    auto tail = log_tail_read(fd, file.size, n);
    if (tail && n == 1 && *tail != "\n")
        tail = log_tail_read(fd, file.size, static_cast<std::size_t>(std::min<std::uint64_t>(file.size, kMaxLine)));
    if (!tail)
        return std::unexpected(tail.error());
    return std::pair{file, std::move(*tail)};
}

}  // namespace

// Contract 4 of decision_log.hpp: lock the head, link, one write, rewrite
// the head, unlock.
Result<std::string> log_append(LogFiles& files, const DecisionRecord& r, const struct timespec& ts)
{
    if (!files.valid())
        return fail("log-unavailable", EBADF, {}, "the log is not open");
    auto lock = log_lock(files.head.get(), LOCK_EX);
    if (!lock)
        return std::unexpected(lock.error());
    auto head = log_head_read(files.head.get());
    if (!head)
        return std::unexpected(head.error());
    auto state = log_state_read(files.log.get(), *head);
    if (!state)
        return std::unexpected(state.error());
    LogFileState& file = state->first;
    file.tail = state->second;
    const LogLink link = log_link_plan(*head, file);
    const std::string line = log_encode(r, ts, link.prev);
    if (auto written = log_write(files.log.get(), link.lead_newline ? "\n" + line : line); !written)
        return std::unexpected(written.error());
    std::string hash = sha256_hex(line);
    if (link.head_update) {
        LogHead next{file.dev, file.ino, file.size + line.size() + (link.lead_newline ? 1 : 0),
                     link.count, hash};
        if (auto rewritten = log_head_write(files.head.get(), next); !rewritten)
            return std::unexpected(rewritten.error());
    }
    return hash;
}

}  // namespace tg
