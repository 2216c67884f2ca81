// The tamper-evident decision log end to end: records written by the
// installed setgid wrapper and by the CLI form one hash chain; 64
// concurrent wrappers run as real accounts lose and tear nothing; every
// kind of tampering (on copies and on the real test log) is found by
// `tmuxguard log verify` at its exact FILE:LINE; a missing head refuses
// every attach; `log show` filters and resolves names; both are root's.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "harness.hpp"
#include "tmuxguard/log_chain.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace {

const std::string kMismatch = "\"prev\" does not match the previous record (line ";
const std::string kMismatchWhy = "): it was changed, or a record was removed or inserted";

std::string log_path()
{
    return tg::paths::default_log;
}

std::string head_path()
{
    return tg::log_head_path(log_path());
}

// The lines of `text`, each with its '\n'.
std::vector<std::string> raw_lines(const std::string& text)
{
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t nl = text.find('\n', at);
        std::size_t end = nl == std::string::npos ? text.size() : nl + 1;
        out.push_back(text.substr(at, end - at));
        at = end;
    }
    return out;
}

std::string join(const std::vector<std::string>& lines)
{
    std::string out;
    for (const auto& l : lines)
        out += l;
    return out;
}

// Replaces a file's bytes in place (same inode), as an editor with
// in-place saving or `truncate` would.
void file_overwrite(const std::string& path, const std::string& content)
{
    int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
    ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size())) << path;
    close(fd);
}

// A root-owned 0700 directory under /var/lib for copies, removed at the end.
class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/var/lib/tmuxguard-e2e-log.XXXXXX";
        if (mkdtemp(tmpl) != nullptr)
            path_ = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir()
    {
        std::error_code ignored;
        if (!path_.empty())
            std::filesystem::remove_all(path_, ignored);
    }
    [[nodiscard]] std::string at(const std::string& name) const { return path_ + "/" + name; }
    [[nodiscard]] bool ok() const { return !path_.empty(); }

private:
    std::string path_;
};

// Puts the real test log and its head back as they were (bytes, in place)
// when it goes out of scope, so tampering here leaves the next test a
// clean chain.
class LogRestore {
public:
    LogRestore() : log_(file_read(log_path())), head_(file_read(head_path())) {}
    LogRestore(const LogRestore&) = delete;
    LogRestore& operator=(const LogRestore&) = delete;
    ~LogRestore()
    {
        file_overwrite(log_path(), log_);
        if (!std::filesystem::exists(head_path())) {
            std::ofstream(head_path()).close();
            EXPECT_EQ(chown(head_path().c_str(), 0, World::get().gate_gid()), 0);
            EXPECT_EQ(chmod(head_path().c_str(), 0660), 0);
        }
        file_overwrite(head_path(), head_);
        RunResult r = cli_run({"log", "verify"});
        EXPECT_EQ(r.status, 0) << "the log was not restored: " << r.both();
    }

private:
    std::string log_;
    std::string head_;
};

// A record's field in a raw line.
std::string field_of(const std::string& line, const std::string& key)
{
    std::string_view body(line);
    if (body.ends_with('\n'))
        body.remove_suffix(1);
    auto fields = json_parse_flat(body);
    if (!fields || fields->count(key) == 0)
        return "<missing>";
    return fields->at(key).text;
}

// "log OK: N records, last sha256 HEX" for the log as it is now.
std::string log_ok_line(const std::string& text)
{
    auto lines = raw_lines(text);
    return "log OK: " + std::to_string(lines.size()) + " records, last sha256 " +
           (lines.empty() ? std::string(tg::kZeroHash) : tg::sha256_hex(lines.back())) + "\n";
}

// Each line's prev is the hash of the line before it.
void expect_linked(const std::vector<std::string>& lines, std::size_t from)
{
    for (std::size_t k = std::max<std::size_t>(from, 1); k < lines.size(); ++k)
        EXPECT_EQ(field_of(lines[k], "prev"), tg::sha256_hex(lines[k - 1])) << "line " << k + 1;
}

}  // namespace

class LogE2E : public E2E {
protected:
    // A share with viewer (view) and typist (interact) rules and a running server.
    Share share_served(const std::string& name)
    {
        Share s = share_make(name);
        policy_lines_.push_back(s.policy_line());
        policy_lines_.push_back(rule_permit("view", user("viewer").name, s));
        policy_lines_.push_back(rule_permit("interact", user("typist").name, s));
        policy_install(policy_lines_);
        serve(s);
        return s;
    }

    std::vector<std::string> policy_lines_;
};

// Records of the setgid wrapper (-n allow and deny) and of the CLI (reload)
// form one chain; verify says so in exactly one line; the head describes
// the log; both files are root:GATE 0660.
TEST_F(LogE2E, WrapperAndCliRecordsFormOneChain)
{
    Share s = share_served("log.chain");
    LogMark mark = log_mark();
    expect_allowed(attach_check(user("viewer"), {s.name}), "view");
    expect_denied(attach_check(user("nobody"), {s.name}), "no-rule");
    ASSERT_NO_FATAL_FAILURE(policy_install(policy_lines_));  // a "reload" record
    expect_allowed(attach_check(user("typist"), {s.name}), "interact");

    const std::string text = file_read(log_path());
    const auto lines = raw_lines(text);
    ASSERT_EQ(lines.size(), mark.lines + 4);
    EXPECT_EQ(field_of(lines[mark.lines + 2], "event"), "reload");
    EXPECT_EQ(field_of(lines[0], "prev"), tg::kZeroHash) << "the run's first record starts the chain";
    expect_linked(lines, mark.lines);
    RunResult r = cli_run({"log", "verify"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, log_ok_line(text));
    EXPECT_EQ(r.err, "");

    auto head = tg::log_head_parse(file_read(head_path()));
    ASSERT_TRUE(head);
    struct stat st {};
    ASSERT_EQ(stat(log_path().c_str(), &st), 0);
    EXPECT_EQ(head->ino, st.st_ino);
    EXPECT_EQ(head->size, text.size());
    EXPECT_EQ(head->count, lines.size());
    EXPECT_EQ(head->hash, tg::sha256_hex(lines.back()));
    for (const std::string& p : {log_path(), head_path()}) {
        ASSERT_EQ(stat(p.c_str(), &st), 0) << p;
        EXPECT_EQ(st.st_uid, 0u) << p;
        EXPECT_EQ(st.st_gid, World::get().gate_gid()) << p;
        EXPECT_EQ(st.st_mode & 07777, 0660u) << p;
    }
    RunResult json = cli_run({"log", "verify", "--json"});
    EXPECT_EQ(json.status, 0) << json.both();
    EXPECT_EQ(json.out, "{\"ok\":true,\"records\":" + std::to_string(lines.size()) +
                            ",\"last_sha256\":\"" + tg::sha256_hex(lines.back()) +
                            "\",\"problem\":null,\"warnings\":[],\"notes\":[]}\n");
}

// 64 wrappers at once, as four real accounts: exactly 64 new records, one
// per process, none torn, and one valid chain.
TEST_F(LogE2E, SixtyFourConcurrentWrappersFormOneChain)
{
    Share s = share_served("log.many");
    const Account* who[] = {&user("viewer"), &user("typist"), &user("nobody"), &user("denied")};
    LogMark mark = log_mark();
    std::vector<Child> children;
    for (int i = 0; i < 64; ++i) {
        RunOptions as;
        as.user = who[i % 4]->name;
        children.push_back(proc_spawn({path_attach(), "-n", s.name}, as));
    }
    std::set<std::string> pids;
    for (auto& c : children) {
        RunResult r = proc_collect(c, 30s);
        EXPECT_TRUE(r.status == 0 || r.status == 1) << r.both();
        pids.insert(std::to_string(c.pid));
    }
    const std::string text = file_read(log_path());
    const auto lines = raw_lines(text);
    ASSERT_EQ(lines.size(), mark.lines + 64);
    std::set<std::string> seen;
    for (std::size_t k = mark.lines; k < lines.size(); ++k) {
        const std::string pid = field_of(lines[k], "pid");
        EXPECT_EQ(pids.count(pid), 1u) << lines[k];
        EXPECT_TRUE(seen.insert(pid).second) << "two records of one process: " << lines[k];
    }
    expect_linked(lines, mark.lines);
    RunResult r = cli_run({"log", "verify"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, log_ok_line(text));
}

// Tampering on copies of the real log: each kind is found at its exact
// line, exit 1; the untouched copy verifies.
TEST_F(LogE2E, TamperedCopiesAreFoundAtTheirLine)
{
    Share s = share_served("log.copy");
    for (int i = 0; i < 3; ++i)
        expect_allowed(attach_check(user("viewer"), {s.name}), "view");
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string text = file_read(log_path());
    const auto lines = raw_lines(text);
    ASSERT_GE(lines.size(), 6u);
    const std::size_t k = lines.size() - 3;  // 0-based: the record tampered with
    auto edited = [&] {
        auto l = lines;
        std::size_t at = l[k].find("\"decision\":\"") + 12;
        l[k][at] = l[k][at] == 'a' ? 'b' : 'a';  // one byte in a field: still JSON
        return join(l);
    };
    auto removed = [&] {
        auto l = lines;
        l.erase(l.begin() + static_cast<std::ptrdiff_t>(k));
        return join(l);
    };
    auto duplicated = [&] {
        auto l = lines;
        l.insert(l.begin() + static_cast<std::ptrdiff_t>(k), l[k]);
        return join(l);
    };
    const std::string line_k = std::to_string(k + 1);  // 1-based line of record k
    const std::string line_next = std::to_string(k + 2);
    struct Case {
        const char* name;
        std::string content;
        int status;
        std::string out;  // with FILE for the copy's path
    };
    const Case table[] = {
        {"clean", text, 0, log_ok_line(text)},
        {"edited", edited(), 1, ":" + line_next + ": " + kMismatch + line_k + kMismatchWhy + "\n"},
        {"removed", removed(), 1, ":" + line_k + ": " + kMismatch + std::to_string(k) + kMismatchWhy + "\n"},
        {"duplicated", duplicated(), 1, ":" + line_next + ": " + kMismatch + line_k + kMismatchWhy + "\n"},
        {"cut", text.substr(0, text.size() - 20), 1,
         ":" + std::to_string(lines.size()) + ": truncated: the last line has no newline (a record cut short)\n"},
    };
    for (const auto& c : table) {
        SCOPED_TRACE(c.name);
        const std::string copy = dir.at(std::string(c.name) + ".log");
        std::ofstream(copy, std::ios::binary) << c.content;
        RunResult r = cli_run({"log", "verify", copy});
        EXPECT_EQ(r.status, c.status) << r.both();
        EXPECT_EQ(r.out, c.status == 0 ? c.out : copy + c.out);
        EXPECT_EQ(r.err, "");
    }
    // Rotated files in order form one chain; out of order they do not.
    const std::string first = dir.at("decisions.log.1");
    const std::string second = dir.at("decisions.log");
    std::ofstream(first, std::ios::binary) << join({lines.begin(), lines.begin() + 3});
    std::ofstream(second, std::ios::binary) << join({lines.begin() + 3, lines.end()});
    RunResult r = cli_run({"log", "verify", first, second});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, log_ok_line(text));
    r = cli_run({"log", "verify", second, first});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.out, second + ":1: note: the chain continues an earlier file (prev " +
                         tg::sha256_hex(lines[2]) + ")\n" + first + ":1: \"prev\" does not match the previous record (" + second + ":" +
                         std::to_string(lines.size() - 3) + kMismatchWhy + "\n");
    // A file that cannot be read is a system error.
    r = cli_run({"log", "verify", dir.at("missing.log")});
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: log: cannot read log-unreadable: " + dir.at("missing.log") +
                         ": cannot open: No such file or directory\n");
}

// The real log cut at a record boundary: the chain alone cannot see it,
// the head does; and after the next record (the writer never refuses) the
// chain shows it too.
TEST_F(LogE2E, TruncationAtARecordBoundaryIsCaughtByTheHead)
{
    Share s = share_served("log.cut");
    expect_allowed(attach_check(user("viewer"), {s.name}), "view");
    expect_allowed(attach_check(user("typist"), {s.name}), "interact");
    LogRestore restore;
    const std::string text = file_read(log_path());
    const auto lines = raw_lines(text);
    const std::string shorter = join({lines.begin(), lines.end() - 1});
    ASSERT_NO_FATAL_FAILURE(file_overwrite(log_path(), shorter));
    RunResult r = cli_run({"log", "verify"});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.out, log_path() + ":" + std::to_string(lines.size()) +
                         ": truncated at a record boundary: the head records " +
                         std::to_string(lines.size()) + " records (" + std::to_string(text.size()) +
                         " bytes), the file has " + std::to_string(lines.size() - 1) + " (" +
                         std::to_string(shorter.size()) + " bytes)\n");
    r = cli_run({"log", "verify", log_path()});
    EXPECT_EQ(r.status, 0) << "the chain alone cannot see a cut at a boundary: " << r.both();
    expect_allowed(attach_check(user("viewer"), {s.name}), "view");
    r = cli_run({"log", "verify", log_path()});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.out, log_path() + ":" + std::to_string(lines.size()) + ": " + kMismatch +
                         std::to_string(lines.size() - 1) + kMismatchWhy + "\n");
}

// The last record changed in place (same size, same inode): no record after
// it, so only the head's hash shows it.
TEST_F(LogE2E, EditedLastRecordIsCaughtByTheHead)
{
    Share s = share_served("log.edit");
    expect_allowed(attach_check(user("viewer"), {s.name}), "view");
    LogRestore restore;
    const std::string text = file_read(log_path());
    const std::size_t n = raw_lines(text).size();
    std::string edited = text;
    edited[edited.rfind("\"decision\":\"") + 12] = 'X';
    ASSERT_NO_FATAL_FAILURE(file_overwrite(log_path(), edited));
    RunResult r = cli_run({"log", "verify"});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.out, log_path() + ":" + std::to_string(n) +
                         ": the record the head names last was changed (its sha256 is not the head's)\n");
    r = cli_run({"log", "verify", log_path()});
    EXPECT_EQ(r.status, 0) << "the chain alone cannot see it: " << r.both();
}

// No head, no record, no access: the wrapper refuses with log-unavailable
// and writes nothing; verify names the missing head; reload writes a new
// head from the log and attaches work again.
TEST_F(LogE2E, MissingHeadRefusesEveryAttemptUntilReload)
{
    Share s = share_served("log.head");
    LogRestore restore;
    ASSERT_EQ(unlink(head_path().c_str()), 0);
    const std::string before = file_read(log_path());
    expect_denied(attach_check(user("viewer"), {s.name}), "log-unavailable");
    expect_denied(attach_check(user("nobody"), {s.name}), "no-rule");
    EXPECT_EQ(file_read(log_path()), before) << "a record without its head";
    RunResult r = cli_run({"log", "verify"});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.out, head_path() + ":0: missing: every attach is refused (log-unavailable) until "
                                   "'tmuxguard reload' writes it\n");
    r = cli_run({"reload"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_TRUE(contains(r.out, "decision log: head written for the " +
                                    std::to_string(raw_lines(before).size()) + " records already in " +
                                    log_path() + "\n"))
        << r.both();
    expect_allowed(attach_check(user("viewer"), {s.name}), "view");
    r = cli_run({"log", "verify"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, log_ok_line(file_read(log_path())));
}

// A log from before the chain (mode 0620, records without "prev", no
// head): reload makes it 0660, writes its head from the last line, and the
// first new record links to it; verify notes the old records once.
TEST_F(LogE2E, ReloadAdoptsALogFromBeforeTheChain)
{
    Share s = share_served("log.old");
    LogRestore restore;
    std::string old;
    for (const auto& l : raw_lines(file_read(log_path()))) {
        std::string line = l;
        std::size_t at = line.rfind(",\"prev\":\"");
        ASSERT_NE(at, std::string::npos) << line;
        line.erase(at, line.size() - 2 - at);  // drop ,"prev":"..." before "}\n"
        old += line;
    }
    ASSERT_NO_FATAL_FAILURE(file_overwrite(log_path(), old));
    ASSERT_EQ(unlink(head_path().c_str()), 0);
    ASSERT_EQ(chmod(log_path().c_str(), 0620), 0);
    ASSERT_NO_FATAL_FAILURE(policy_install(policy_lines_));
    struct stat st {};
    ASSERT_EQ(stat(log_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0660u);
    const std::size_t n_old = raw_lines(old).size();
    expect_allowed(attach_check(user("viewer"), {s.name}), "view");
    const auto lines = raw_lines(file_read(log_path()));
    ASSERT_EQ(lines.size(), n_old + 2);  // the reload record, then the attempt
    EXPECT_EQ(field_of(lines[n_old], "prev"), tg::sha256_hex(lines[n_old - 1]));
    RunResult r = cli_run({"log", "verify"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, log_path() + ":1: note: " + std::to_string(n_old) +
                         " records at the start carry no \"prev\" (written before the hash chain)\n" +
                         log_ok_line(file_read(log_path())));
}

// log show: --user (name or uid), --share and --since pick the right
// records; names resolved; a line that is not a record is shown and
// counted, never dropped.
TEST_F(LogE2E, ShowFiltersAndResolvesNames)
{
    Share a = share_served("log.show-a");
    Share b = share_served("log.show-b");
    const Account& viewer = user("viewer");
    RunResult va = attach_check(viewer, {a.name});
    RunResult na = attach_check(user("nobody"), {a.name});
    RunResult vb = attach_check(viewer, {b.name});
    expect_allowed(va, "view");
    expect_denied(na, "no-rule");
    expect_allowed(vb, "view");
    auto has_pid = [](const std::string& out, const RunResult& r) {
        return contains(out, "\"pid\":" + std::to_string(r.pid) + ",");
    };
    for (const std::string& who : {viewer.name, std::to_string(viewer.uid)}) {
        SCOPED_TRACE(who);
        RunResult r = cli_run({"log", "show", "--user", who, "--share", a.name, "--json"});
        EXPECT_EQ(r.status, 0) << r.both();
        EXPECT_TRUE(has_pid(r.out, va)) << r.out;
        EXPECT_FALSE(has_pid(r.out, na)) << r.out;
        EXPECT_FALSE(has_pid(r.out, vb)) << r.out;
        EXPECT_TRUE(contains(r.out, "\"uid\":" + std::to_string(viewer.uid) + ",")) << r.out;
        EXPECT_TRUE(contains(r.out, ",\"user\":\"" + viewer.name + "\"}")) << r.out;
        EXPECT_TRUE(r.out.starts_with("{\"records\":[{\"ts\":")) << r.out;
        EXPECT_TRUE(r.out.ends_with("],\"unparsed\":[]}\n")) << r.out;
    }
    // The table: the right rows, the user by name.
    RunResult t = cli_run({"log", "show", "--share", a.name});
    EXPECT_EQ(t.status, 0) << t.both();
    auto rows = split_lines(t.out);
    ASSERT_GE(rows.size(), 3u) << t.out;
    EXPECT_TRUE(std::regex_match(rows[0], std::regex("TIME +EVENT +DECISION +REASON +USER +SHARE +MODE +RULE +DETAIL")))
        << rows[0];
    std::vector<std::string> checks;
    for (std::size_t k = 1; k < rows.size(); ++k) {
        std::istringstream cols(rows[k]);
        std::string time, event, decision, reason, who, share;
        cols >> time >> event >> decision >> reason >> who >> share;
        EXPECT_EQ(share, a.name) << rows[k];
        if (event == "check")
            checks.push_back(decision + " " + reason + " " + who);
        EXPECT_TRUE(std::regex_match(time, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")))
            << rows[k];
    }
    EXPECT_EQ(checks, (std::vector<std::string>{"allow permitted " + viewer.name,
                                                "deny no-rule " + user("nobody").name}));
    // --since: a minute from now shows none of them, a minute ago and a
    // duration show them.
    const std::string later = local_time_format(1, TimeFormat::stamp);
    RunResult r = cli_run({"log", "show", "--share", a.name, "--since", later, "--json"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out, "{\"records\":[],\"unparsed\":[]}\n");
    for (const std::string& since : {local_time_format(-1, TimeFormat::stamp), std::string("10m")}) {
        r = cli_run({"log", "show", "--share", a.name, "--since", since, "--json"});
        EXPECT_TRUE(has_pid(r.out, va) && has_pid(r.out, na)) << since << ": " << r.out;
    }
    r = cli_run({"log", "show", "--user", World::get().tag() + "-nosuchuser"});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: log: unknown user '" + World::get().tag() + "-nosuchuser'\n");
    r = cli_run({"log", "show", "--since", "yesterday"});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: log: invalid --since 'yesterday': want YYYY-MM-DDTHH:MM (local "
                     "time) or a duration such as 2h\n");

    // A line that is not a record: shown as such, counted on stderr.
    LogRestore restore;
    {
        std::ofstream out(log_path(), std::ios::app | std::ios::binary);
        out << "garbage\x1b[2J\n";
    }
    r = cli_run({"log", "show", "--share", a.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_TRUE(contains(r.out, "(not a record)")) << r.out;
    EXPECT_TRUE(contains(r.out, ": expected '{' at byte 0: garbage\\x1b[2J\n")) << r.out;
    EXPECT_EQ(r.err, "tmuxguard: log: warning: 1 line is not a record (shown as such)\n");
}

// Both subcommands are root's; the usage is checked first.
TEST_F(LogE2E, NonRootIsRefusedAndUsageErrors)
{
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"log", "show"}, std::vector<std::string>{"log", "verify"}}) {
        std::vector<std::string> argv = {path_cli()};
        argv.insert(argv.end(), args.begin(), args.end());
        RunResult r = proc_run_as(user("viewer").name, argv);
        EXPECT_EQ(r.status, 1) << r.both();
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(r.err, "tmuxguard: log: must be run as root\n");
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"log"}, std::vector<std::string>{"log", "list"},
          std::vector<std::string>{"log", "verify", "--since", "1h"},
          std::vector<std::string>{"log", "show", "extra"}}) {
        RunResult r = cli_run(args);
        EXPECT_EQ(r.status, 2) << r.both();
        EXPECT_EQ(r.err, "tmuxguard: log: usage: tmuxguard log show [--since WHEN] [--user USER] "
                         "[--share SHARE] [--json] | log verify [FILE...] [--json]\n");
    }
}

}  // namespace tge2e
