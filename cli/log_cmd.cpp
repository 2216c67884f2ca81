// tmuxguard log show | log verify (root only): the decision log read back.
//
// show: the configured log as a table (or JSON), uids resolved to names,
//   filtered by time, user and share; a line that is not a record is shown
//   as such and counted, never dropped.
// verify: the hash chain of the configured log against its head, or of the
//   given files in order (log_chain.hpp's LogVerifier); the first problem is
//   reported as FILE:LINE: MESSAGE.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>

#include "cli.hpp"
#include "nss.hpp"
#include "tmuxguard/log_chain.hpp"
#include "tmuxguard/paths.hpp"
#include "tmuxguard/policy.hpp"

namespace tgcli {

namespace {

constexpr const char* kLog = "log";
constexpr const char* kUsage =
    "usage: tmuxguard log show [--since WHEN] [--user USER] [--share SHARE] [--json] | "
    "log verify [FILE...] [--json]";
// How much of a line that is not a record `log show` prints.
constexpr std::size_t kUnparsedShown = 200;

// The configured log: the compiled policy's `set log`, else the default.
std::string log_path_configured()
{
    tg::Result<tg::CompiledPolicy> c = compiled_policy_load();
    return c ? c->log : std::string(tg::paths::default_log);
}

// Opens a log (or a copy of one) for reading: a regular file, never a FIFO
// that could hang us; `nofollow` for the configured path.
tg::Result<tg::UniqueFd> log_read_open(const std::string& path, bool nofollow)
{
    tg::UniqueFd fd(::open(path.c_str(),
                           O_RDONLY | O_CLOEXEC | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0)));
    if (!fd.valid())
        return tg::fail("log-unreadable", errno, path, "cannot open");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return tg::fail("log-unreadable", errno, path, "fstat");
    if (!S_ISREG(st.st_mode))
        return tg::fail("log-unreadable", 0, path, "not a regular file");
    return fd;
}

// ---------------------------------------------------------------- verify

// What the head file says about the log, read with the log's size under
// their shared locks, so both describe the same moment.
struct HeadSnapshot {
    enum class State { missing, malformed, other_file, this_file } state = State::missing;
    tg::LogHead head;
    std::uint64_t log_size = 0;
};

// The head read under its shared lock (writers hold it exclusively for one
// record), with the log's size taken under the same lock, so both describe
// the same moment. Without a head there is nothing to lock: no writer can
// write (log_append needs the head).
tg::Result<HeadSnapshot> head_snapshot_take(int log_fd, const std::string& head_path)
{
    HeadSnapshot snap;
    tg::UniqueFd head(::open(head_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!head.valid() && errno != ENOENT)
        return tg::fail("log-unreadable", errno, head_path, "cannot open");
    std::optional<tg::LogLock> lock;
    if (head.valid()) {
        tg::Result<tg::LogLock> locked = tg::log_lock(head.get(), LOCK_SH);
        if (!locked)
            return tg::fail("log-unreadable", locked.error().err, head_path, locked.error().detail);
        lock.emplace(std::move(*locked));
    }
    struct stat st {};
    if (::fstat(log_fd, &st) != 0)
        return tg::fail("log-unreadable", errno, {}, "fstat");
    snap.log_size = static_cast<std::uint64_t>(st.st_size);
    if (!head.valid())
        return snap;
    tg::Result<tg::LogHead> h = tg::log_head_read(head.get());
    if (!h && h.error().detail != "malformed head")
        return tg::fail("log-unreadable", h.error().err, head_path, h.error().detail);
    snap.state = !h ? HeadSnapshot::State::malformed
                 : h->dev == st.st_dev && h->ino == st.st_ino ? HeadSnapshot::State::this_file
                                                               : HeadSnapshot::State::other_file;
    if (h)
        snap.head = *h;
    return snap;
}

// Feeds one file to the verifier, up to `limit` bytes.
tg::Result<void> verify_file_feed(tg::LogVerifier& v, int fd, std::uint64_t limit)
{
    tg::Result<void> scanned = tg::log_lines_scan(fd, limit, [&](const tg::LogLine& l) { return v.line(l); });
    if (!scanned)
        return scanned;
    (void)v.file_end();
    return {};
}

// The head's own problems, after the chain (the first problem wins).
void verify_head_judge(tg::LogVerifier& v, const HeadSnapshot& snap, const std::string& log_path,
                       const std::string& head_path)
{
    using State = HeadSnapshot::State;
    if (snap.state == State::missing)
        v.problem_set(head_path + ":0: missing: every attach is refused (log-unavailable) until "
                                  "'tmuxguard reload' writes it");
    else if (snap.state == State::malformed)
        v.problem_set(head_path + ":1: malformed head");
    else if (snap.state == State::other_file && snap.log_size > 0)
        v.problem_set(head_path + ":1: names another file (device " + std::to_string(snap.head.dev) +
                      ", inode " + std::to_string(snap.head.ino) + "), not " + log_path +
                      ": the log was replaced");
    else if (snap.state == State::other_file)
        v.note_add(head_path + ":1: note: the log is empty; its first record will continue the "
                               "chain of the file the head names");
}

// The configured log against its head. Exit 3 when it cannot be read.
int verify_configured(tg::LogVerifier& v)
{
    const std::string path = log_path_configured();
    const std::string head_path = tg::log_head_path(path);
    tg::Result<tg::UniqueFd> fd = log_read_open(path, true);
    if (!fd) {
        err_line(kLog, "cannot read the decision log: " + fd.error().message());
        return kExitSystem;
    }
    tg::Result<HeadSnapshot> snap = head_snapshot_take(fd->get(), head_path);
    if (!snap) {
        err_line(kLog, "cannot read the decision log's head: " + snap.error().message());
        return kExitSystem;
    }
    const bool named = snap->state == HeadSnapshot::State::this_file;
    v.file_begin(path, named ? std::optional<tg::LogHead>(snap->head) : std::nullopt);
    if (tg::Result<void> fed = verify_file_feed(v, fd->get(), snap->log_size); !fed) {
        err_line(kLog, "cannot read " + path + ": " + fed.error().message());
        return kExitSystem;
    }
    verify_head_judge(v, *snap, path, head_path);
    return kExitOk;
}

// The given files, in order, as one chain. Exit 3 when one cannot be read.
int verify_files(tg::LogVerifier& v, const std::vector<std::string>& files)
{
    for (const std::string& path : files) {
        tg::Result<tg::UniqueFd> fd = log_read_open(path, false);
        if (!fd) {
            err_line(kLog, "cannot read " + fd.error().message());
            return kExitSystem;
        }
        struct stat st {};
        if (::fstat(fd->get(), &st) != 0) {
            err_line(kLog, "cannot read " + path + ": fstat: " + std::strerror(errno));
            return kExitSystem;
        }
        v.file_begin(path);
        // Up to its size now: a log still being written ends where it was.
        tg::Result<void> fed = verify_file_feed(v, fd->get(), static_cast<std::uint64_t>(st.st_size));
        if (!fed) {
            err_line(kLog, "cannot read " + path + ": " + fed.error().message());
            return kExitSystem;
        }
        if (v.failed())
            break;
    }
    return kExitOk;
}

// Human lines, or one JSON object; exit 1 on a problem.
int verify_report_print(const tg::VerifyReport& r, bool json)
{
    if (json) {
        json_out_line("{\"ok\":" + std::string(r.problem.empty() ? "true" : "false") +
                 ",\"records\":" + std::to_string(r.records) + ",\"last_sha256\":" +
                 json_quote(r.last_hash) + ",\"problem\":" +
                 (r.problem.empty() ? std::string("null") : json_quote(r.problem)) +
                 ",\"warnings\":" + json_string_array(r.warnings) +
                 ",\"notes\":" + json_string_array(r.notes) + "}");
    } else {
        for (const std::string& n : r.notes)
            out_line(n);
        for (const std::string& w : r.warnings)
            out_line(w);
        if (!r.problem.empty())
            out_line(r.problem);
        else
            out_line("log OK: " + std::to_string(r.records) + " records, last sha256 " + r.last_hash);
    }
    return r.problem.empty() ? kExitOk : kExitRefused;
}

// `log verify [FILE...]`.
int log_verify(const Args& a)
{
    tg::LogVerifier v;
    std::vector<std::string> files(a.operands.begin() + 1, a.operands.end());
    int rc = files.empty() ? verify_configured(v) : verify_files(v, files);
    if (rc != kExitOk)
        return rc;
    return verify_report_print(v.report(), a.json);
}

// ---------------------------------------------------------------- show

struct ShowFilter {
    std::optional<std::int64_t> since;  // epoch seconds
    std::optional<long long> uid;
    std::optional<std::string> share;
};

// A uid as the CLI takes it: decimal digits, at most 4294967294.
std::optional<long long> uid_parse(std::string_view s)
{
    if (s.empty() || s.size() > 10)
        return std::nullopt;
    long long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v < 4294967295LL ? std::optional(v) : std::nullopt;
}

// --since, --user, --share; a usage error (exit 2) as text.
tg::Result<ShowFilter> show_filter_parse(const Args& a)
{
    ShowFilter f;
    if (auto when = a.value("--since")) {
        std::int64_t epoch = 0;
        if (tg::policy_parse_local_time(*when, epoch)) {
            f.since = epoch;
        } else if (auto d = duration_parse(*when)) {
            f.since = static_cast<std::int64_t>(std::time(nullptr)) - d->count();
        } else {
            return tg::fail("usage", 0, {},
                            "invalid --since '" + text_safe(*when) +
                                "': want YYYY-MM-DDTHH:MM (local time) or a duration such as 2h");
        }
    }
    if (auto user = a.value("--user")) {
        if (auto uid = uid_parse(*user)) {
            f.uid = uid;
        } else if (auto acct = nss_account_by_name(*user)) {
            f.uid = acct->uid;
        } else {
            return tg::fail("usage", 0, {}, "unknown user '" + text_safe(*user) + "'");
        }
    }
    f.share = a.value("--share");
    return f;
}

// "2026-11-25T14:31:25.123456Z" -> epoch seconds; nullopt unless exactly that shape.
std::optional<std::int64_t> record_time_parse(std::string_view ts)
{
    static constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    if (ts.size() != shape.size())
        return std::nullopt;
    for (std::size_t i = 0; i < ts.size(); ++i) {
        bool digit = ts[i] >= '0' && ts[i] <= '9';
        if (shape[i] == 'd' ? !digit : ts[i] != shape[i])
            return std::nullopt;
    }
    auto num = [&](std::size_t at, std::size_t n) {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i)
            v = v * 10 + (ts[i] - '0');
        return v;
    };
    struct tm tm {};
    tm.tm_year = num(0, 4) - 1900;
    tm.tm_mon = num(5, 2) - 1;
    tm.tm_mday = num(8, 2);
    tm.tm_hour = num(11, 2);
    tm.tm_min = num(14, 2);
    tm.tm_sec = num(17, 2);
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return std::nullopt;
    return static_cast<std::int64_t>(::timegm(&tm));
}

// Local time to the second, "YYYY-MM-DDTHH:MM:SS".
std::string time_local_seconds(std::int64_t t)
{
    struct tm tm {};
    char buf[32];
    auto tt = static_cast<std::time_t>(t);
    if (::localtime_r(&tt, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return "?";
    return buf;
}

// The field's text; "-" when absent, null or empty (a table cell is never blank).
std::string field_text(const tg::JsonFlat& obj, std::string_view key)
{
    const tg::JsonField* f = tg::json_flat_get(obj, key);
    return f == nullptr || f->kind == tg::JsonKind::null || f->value.empty() ? "-" : f->value;
}

// Names of uids through NSS, each looked up once.
class UidNames {
public:
    std::optional<std::string> name(long long uid)
    {
        auto it = cache_.find(uid);
        if (it == cache_.end()) {
            auto acct = nss_account_by_uid(static_cast<uid_t>(uid));
            it = cache_.emplace(uid, acct ? std::optional(acct->name) : std::nullopt).first;
        }
        return it->second;
    }

private:
    std::map<long long, std::optional<std::string>> cache_;
};

// What `log show` collects: table rows and JSON objects, in file order.
struct ShowOutput {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> json_records;
    std::vector<std::string> json_unparsed;
    std::size_t unparsed = 0;
};

// The record's uid when it is a plain number.
std::optional<long long> record_uid(const tg::JsonFlat& obj)
{
    const tg::JsonField* f = tg::json_flat_get(obj, "uid");
    return f != nullptr && f->kind == tg::JsonKind::number ? uid_parse(f->value) : std::nullopt;
}

// Whether a record passes the filters (a record whose time does not parse
// is kept: it is shown, not judged).
bool show_filter_match(const ShowFilter& f, const tg::JsonFlat& obj)
{
    if (f.since) {
        auto t = record_time_parse(field_text(obj, "ts"));
        if (t && *t < *f.since)
            return false;
    }
    if (f.uid && record_uid(obj) != f.uid)
        return false;
    if (f.share) {
        const tg::JsonField* s = tg::json_flat_get(obj, "share");
        if (s == nullptr || s->kind != tg::JsonKind::string || s->value != *f.share)
            return false;
    }
    return true;
}

// One record as a JSON object: its fields as read, plus "user".
std::string show_record_json(const tg::JsonFlat& obj, const std::optional<std::string>& user)
{
    std::string out = "{";
    for (const tg::JsonField& f : obj) {
        if (f.key == "user")
            continue;  // ours below is the resolved one
        out += json_quote(f.key) + ":" + (f.kind == tg::JsonKind::string ? json_quote(f.value) : f.value) + ",";
    }
    return out + "\"user\":" + (user ? json_quote(*user) : std::string("null")) + "}";
}

// One record as a table row.
std::vector<std::string> show_record_row(const tg::JsonFlat& obj, const std::optional<std::string>& user)
{
    const std::string ts = field_text(obj, "ts");
    auto t = record_time_parse(ts);
    auto uid = record_uid(obj);
    std::string who = user ? *user : uid ? std::to_string(*uid) : field_text(obj, "uid");
    return {t ? time_local_seconds(*t) : ts, field_text(obj, "event"), field_text(obj, "decision"),
            field_text(obj, "reason"), who, field_text(obj, "share"), field_text(obj, "mode"),
            field_text(obj, "rule"), field_text(obj, "detail")};
}

// A line that is not a record, shown as such.
void show_unparsed_add(ShowOutput& out, std::uint64_t lineno, const tg::LogLine& l, const std::string& why)
{
    std::string_view text = l.text;
    if (l.complete)
        text.remove_suffix(1);
    std::string shown(text.substr(0, kUnparsedShown));
    ++out.unparsed;
    out.rows.push_back({"-", "(not a record)", "-", "-", "-", "-", "-", "-",
                        "line " + std::to_string(lineno) + ": " + why + ": " + shown});
    out.json_unparsed.push_back("{\"line\":" + std::to_string(lineno) + ",\"error\":" + json_quote(why) +
                                ",\"text\":" + json_quote(shown) + "}");
}

// `log show`.
int log_show(const Args& a)
{
    tg::Result<ShowFilter> filter = show_filter_parse(a);
    if (!filter) {
        err_line(kLog, filter.error().detail);
        return kExitUsage;
    }
    const std::string path = log_path_configured();
    tg::Result<tg::UniqueFd> fd = log_read_open(path, true);
    struct stat st {};
    if (!fd || ::fstat(fd->get(), &st) != 0) {
        err_line(kLog, "cannot read the decision log: " + (fd ? path + ": fstat" : fd.error().message()));
        return kExitSystem;
    }
    ShowOutput out;
    UidNames names;
    std::uint64_t lineno = 0;
    tg::Result<void> scanned = tg::log_lines_scan(fd->get(), static_cast<std::uint64_t>(st.st_size),
                                                  [&](const tg::LogLine& l) {
        ++lineno;
        std::string_view body = l.text.substr(0, l.text.size() - (l.complete ? 1 : 0));
        auto obj = l.length > tg::kMaxRecord ? tg::Result<tg::JsonFlat>(tg::fail("json-invalid", 0, {}, "longer than a record"))
                                             : tg::json_flat_parse(body);
        if (!l.complete || !obj) {
            show_unparsed_add(out, lineno, l, !l.complete ? "cut short (no newline)" : obj.error().detail);
            return true;
        }
        if (!show_filter_match(*filter, *obj))
            return true;
        auto uid = record_uid(*obj);
        std::optional<std::string> user = uid ? names.name(*uid) : std::nullopt;
        if (a.json)
            out.json_records.push_back(show_record_json(*obj, user));
        else
            out.rows.push_back(show_record_row(*obj, user));
        return true;
    });
    if (!scanned) {
        err_line(kLog, "cannot read " + path + ": " + scanned.error().message());
        return kExitSystem;
    }
    if (a.json) {
        std::string records, unparsed;
        for (const std::string& r : out.json_records)
            records += (records.empty() ? "" : ",") + r;
        for (const std::string& u : out.json_unparsed)
            unparsed += (unparsed.empty() ? "" : ",") + u;
        json_out_line("{\"records\":[" + records + "],\"unparsed\":[" + unparsed + "]}");
    } else {
        table_print({"TIME", "EVENT", "DECISION", "REASON", "USER", "SHARE", "MODE", "RULE", "DETAIL"},
                    out.rows);
    }
    if (out.unparsed > 0)
        err_line(kLog, "warning: " + std::to_string(out.unparsed) +
                           (out.unparsed == 1 ? " line is" : " lines are") +
                           " not a record (shown as such)");
    return kExitOk;
}

}  // namespace

// `log show ...` or `log verify ...`: usage first, then root.
int cmd_log(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{.json = true, .values = {"--since", "--user", "--share"}});
    if (!a) {
        err_line(kLog, a.error().detail);
        return kExitUsage;
    }
    const std::string sub = a->operands.empty() ? "" : a->operands.front();
    const bool show = sub == "show";
    if ((!show && sub != "verify") || (show && a->operands.size() > 1) || (!show && !a->values.empty())) {
        err_line(kLog, kUsage);
        return kExitUsage;
    }
    if (!caller_is_root()) {
        err_line(kLog, "must be run as root");
        return kExitRefused;
    }
    return show ? log_show(*a) : log_verify(*a);
}

}  // namespace tgcli
