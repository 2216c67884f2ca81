// The operations commands against real servers with guests attached for
// real (the installed setgid wrapper in an outer tmux): `clients` lists
// exactly who is attached, `reap` detaches only the idle guest and ends only
// the dormant session, with one record per action, `rotate` gives the share
// a new socket inode with its ACL and drops guests whose grant is gone,
// while the guest who still has one stays attached.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <set>
#include <thread>

#include "harness.hpp"

namespace tge2e {
namespace {

// ---------------------------------------------------------------- JSON

// A JSON value with nesting (the CLI's --json output), for the assertions.
struct Json {
    enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
    std::string text;  // string contents, number as written, "true"/"false"
    std::vector<Json> items;
    std::vector<std::pair<std::string, Json>> members;

    // The member `key`; a null value when absent.
    [[nodiscard]] const Json& operator[](const std::string& key) const
    {
        static const Json missing;
        for (const auto& [k, v] : members) {
            if (k == key)
                return v;
        }
        return missing;
    }
    [[nodiscard]] bool has(const std::string& key) const
    {
        return std::any_of(members.begin(), members.end(),
                           [&](const auto& m) { return m.first == key; });
    }
};

// A strict reader of one JSON text (no trailing bytes but one newline).
class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}

    std::optional<Json> document()
    {
        Json v;
        if (!value(v, 0))
            return std::nullopt;
        if (i_ < s_.size() && s_[i_] == '\n')
            ++i_;
        return i_ == s_.size() ? std::optional<Json>(std::move(v)) : std::nullopt;
    }

private:
    bool eat(char c)
    {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool literal(std::string_view word, Json& v, Json::Kind kind)
    {
        if (s_.substr(i_, word.size()) != word)
            return false;
        i_ += word.size();
        v.kind = kind;
        v.text = std::string(word);
        return true;
    }
    bool string(std::string& out)
    {
        if (!eat('"'))
            return false;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (static_cast<unsigned char>(c) < 0x20)
                return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size())
                return false;
            char e = s_[i_++];
            const std::string_view simple = "\"\\/bfnrt";
            const std::string_view meant = "\"\\/\b\f\n\r\t";
            if (std::size_t k = simple.find(e); k != std::string_view::npos) {
                out += meant[k];
            } else if (e == 'u' && i_ + 4 <= s_.size()) {
                unsigned long cp = std::stoul(std::string(s_.substr(i_, 4)), nullptr, 16);
                i_ += 4;
                if (cp >= 0x80)  // the CLI writes only \u00XX for raw bytes
                    return false;
                out += static_cast<char>(cp);
            } else {
                return false;
            }
        }
        return eat('"');
    }
    bool number(Json& v)
    {
        std::size_t start = i_;
        eat('-');
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
            ++i_;
        v.kind = Json::Kind::number;
        v.text = std::string(s_.substr(start, i_ - start));
        return i_ > start && v.text != "-";
    }
    bool value(Json& v, int depth)
    {
        if (depth > 16 || i_ >= s_.size())
            return false;
        switch (s_[i_]) {
        case '{': return object(v, depth);
        case '[': return array(v, depth);
        case '"': v.kind = Json::Kind::string; return string(v.text);
        case 't': return literal("true", v, Json::Kind::boolean);
        case 'f': return literal("false", v, Json::Kind::boolean);
        case 'n': return literal("null", v, Json::Kind::null);
        default: return number(v);
        }
    }
    bool array(Json& v, int depth)
    {
        v.kind = Json::Kind::array;
        eat('[');
        if (eat(']'))
            return true;
        do {
            Json item;
            if (!value(item, depth + 1))
                return false;
            v.items.push_back(std::move(item));
        } while (eat(','));
        return eat(']');
    }
    bool object(Json& v, int depth)
    {
        v.kind = Json::Kind::object;
        eat('{');
        if (eat('}'))
            return true;
        do {
            std::string key;
            Json item;
            if (!string(key) || !eat(':') || !value(item, depth + 1) || v.has(key))
                return false;
            v.members.emplace_back(std::move(key), std::move(item));
        } while (eat(','));
        return eat('}');
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

// ---------------------------------------------------------------- helpers

// The whitespace-separated words of a line.
std::vector<std::string> words(const std::string& line)
{
    std::vector<std::string> out;
    std::size_t i = 0;
    while ((i = line.find_first_not_of(' ', i)) != std::string::npos) {
        std::size_t j = line.find(' ', i);
        out.push_back(line.substr(i, j == std::string::npos ? j : j - i));
        i = j;
    }
    return out;
}

// A duration as the CLI prints it (duration_format).
const std::regex kDuration("[0-9]+[smhd]([0-9]+[smh])?");
// Seconds only (the tests' idle times are short).
const std::string kSeconds = "([0-9]+)s";

// Local time of an epoch second as the CLI's SINCE column prints it.
std::string local_minute(long long epoch)
{
    std::time_t t = static_cast<std::time_t>(epoch);
    struct tm tm {};
    localtime_r(&t, &tm);
    char buf[32];
    return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M", &tm));
}

// getfacl entries of `path` (no comments).
std::string acl_entries(const std::string& path)
{
    RunResult r = proc_run({"getfacl", "-c", "-p", path});
    EXPECT_EQ(r.status, 0) << r.both();
    std::string out;
    for (const auto& line : split_lines(r.out)) {
        if (!line.empty() && line[0] != '#')
            out += line + "\n";
    }
    return out;
}

// One client as tmux itself reports it (the tests' reference).
struct TmuxClient {
    uid_t uid = 0;
    long long created = 0;
    std::string name;
    pid_t pid = 0;
    bool readonly = false;
    std::string session;
};

// Takes `member` out of `group` and puts it back when it goes out of scope
// (the world's team group is used by other scenarios).
class GroupLeave {
public:
    GroupLeave(std::string member, std::string group)
        : member_(std::move(member)), group_(std::move(group))
    {
        RunResult r = proc_run({"gpasswd", "-d", member_, group_});
        ok_ = r.status == 0;
        EXPECT_TRUE(ok_) << r.both();
    }
    GroupLeave(const GroupLeave&) = delete;
    GroupLeave& operator=(const GroupLeave&) = delete;
    ~GroupLeave()
    {
        if (!ok_)
            return;
        RunResult r = proc_run({"gpasswd", "-a", member_, group_});
        EXPECT_EQ(r.status, 0) << r.both();
    }
    [[nodiscard]] bool ok() const { return ok_; }

private:
    std::string member_;
    std::string group_;
    bool ok_ = false;
};

}  // namespace

class OpsE2E : public E2E {
protected:
    // The CLI as `who`.
    RunResult cli_as(const Account& who, const std::vector<std::string>& args)
    {
        std::vector<std::string> argv = {path_cli()};
        argv.insert(argv.end(), args.begin(), args.end());
        return proc_run_as(who.name, argv);
    }

    // The owner's own tmux client attached to the share's default session,
    // in an outer tmux (TMUX unset: the owner is not nesting by mistake).
    Outer owner_attach(const Share& s)
    {
        return outer_start("exec runuser -u " + s.owner->name + " -- env -u TMUX tmux -S " +
                           s.socket + " attach-session -t =" + s.session);
    }

    // A guest's real attach through the installed wrapper, waited for.
    Outer guest_attach(const Share& s, const Account& guest)
    {
        Outer o = outer_attach(guest, {s.name});
        EXPECT_TRUE(wait_until([&] { return share_has_client(s, guest.uid); }))
            << guest.name << " never attached to " << s.name << "; outer pane:\n"
            << outer_capture(o);
        return o;
    }

    // Every client of the share as tmux lists it.
    std::vector<TmuxClient> tmux_clients(const Share& s)
    {
        RunResult r = owner_tmux(s, {"list-clients", "-F",
                                     "#{client_uid} #{client_created} #{client_name} "
                                     "#{client_pid} #{client_readonly} #{session_name}"});
        EXPECT_EQ(r.status, 0) << r.both();
        std::vector<TmuxClient> out;
        for (const auto& line : split_lines(r.out)) {
            std::vector<std::string> w = words(line);
            if (w.size() != 6) {
                ADD_FAILURE() << "list-clients: " << line;
                continue;
            }
            out.push_back({static_cast<uid_t>(std::stoul(w[0])), std::stoll(w[1]), w[2],
                           static_cast<pid_t>(std::stol(w[3])), w[4] == "1", w[5]});
        }
        return out;
    }

    // The outer pane with its history (the attach's last words may have
    // scrolled off when the pane died).
    std::string outer_history(const Outer& o)
    {
        return proc_run({"tmux", "-L", o.name, "capture-pane", "-p", "-S", "-", "-t", "=outer:"}).out;
    }

    // Whether the owner's server has a session of that exact name.
    bool has_session(const Share& s, const std::string& name)
    {
        return owner_tmux(s, {"has-session", "-t", "=" + name}).status == 0;
    }

    // The records after `m` of one event.
    std::vector<Record> records_of(LogMark m, const std::string& event)
    {
        std::vector<Record> out;
        for (const auto& line : log_lines_since(m)) {
            auto f = json_parse_flat(line);
            EXPECT_TRUE(f.has_value()) << line;
            if (f && (*f)["event"].text == event)
                out.push_back(Record{*f, line});
        }
        return out;
    }
};

// ---------------------------------------------------------------- clients

// The owner, a read-only viewer and an interactive typist attached: one row
// each with the user, uid, mode, session, the client's creation minute and
// its tty, exactly as the server knows them; --json says the same; the
// owner may list its own share too.
TEST_F(OpsE2E, ClientsListsEveryAttachedClientExactly)
{
    const Account& owner = user("owner");
    const Account& viewer = user("viewer");
    const Account& typist = user("typist");
    Share s = share_make("ops.clients");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s),
                                            rule_permit("interact", typist.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    Outer own = owner_attach(s);
    ASSERT_TRUE(wait_until([&] { return share_has_client(s, owner.uid); })) << outer_capture(own);
    Outer v = guest_attach(s, viewer);
    Outer t = guest_attach(s, typist);
    ASSERT_FALSE(HasFailure());

    std::map<uid_t, TmuxClient> truth;
    for (const TmuxClient& c : tmux_clients(s))
        truth[c.uid] = c;
    ASSERT_EQ(truth.size(), 3u);
    const std::map<uid_t, std::pair<std::string, std::string>> want = {
        {owner.uid, {owner.name, "owner"}},
        {viewer.uid, {viewer.name, "view"}},
        {typist.uid, {typist.name, "interact"}}};

    for (const Account* caller : {&user("owner"), static_cast<const Account*>(nullptr)}) {
        RunResult r = caller != nullptr ? cli_as(*caller, {"clients", s.name})
                                        : cli_run({"clients", s.name});
        ASSERT_EQ(r.status, 0) << r.both();
        EXPECT_EQ(r.err, "") << r.both();
        std::vector<std::string> lines = split_lines(r.out);
        ASSERT_EQ(lines.size(), 4u) << r.out;
        EXPECT_EQ(words(lines[0]), (std::vector<std::string>{"SHARE", "USER", "UID", "MODE",
                                                             "SESSION", "SINCE", "IDLE", "CLIENT"}))
            << r.out;
        std::set<uid_t> seen;
        for (std::size_t i = 1; i < lines.size(); ++i) {
            std::vector<std::string> w = words(lines[i]);
            ASSERT_EQ(w.size(), 8u) << lines[i];
            const uid_t uid = static_cast<uid_t>(std::stoul(w[2]));
            ASSERT_TRUE(want.count(uid) != 0 && truth.count(uid) != 0) << lines[i];
            seen.insert(uid);
            EXPECT_EQ(w[0], s.name) << lines[i];
            EXPECT_EQ(w[1], want.at(uid).first) << lines[i];
            EXPECT_EQ(w[3], want.at(uid).second) << lines[i];
            EXPECT_EQ(w[4], s.session) << lines[i];
            EXPECT_EQ(w[5], local_minute(truth[uid].created)) << lines[i];
            EXPECT_TRUE(std::regex_match(w[6], kDuration)) << lines[i];
            EXPECT_EQ(w[7], truth[uid].name) << lines[i];
        }
        EXPECT_EQ(seen.size(), 3u) << r.out;
    }

    RunResult j = cli_run({"clients", s.name, "--json"});
    ASSERT_EQ(j.status, 0) << j.both();
    std::optional<Json> doc = JsonReader(j.out).document();
    ASSERT_TRUE(doc.has_value()) << j.out;
    ASSERT_EQ((*doc)["shares"].items.size(), 1u) << j.out;
    const Json& sh = (*doc)["shares"].items[0];
    EXPECT_EQ(sh["share"].text, s.name);
    EXPECT_EQ(sh["running"].text, "true");
    EXPECT_EQ(sh["server_pid"].text, std::to_string(s.server_pid));
    ASSERT_EQ(sh["clients"].items.size(), 3u) << j.out;
    for (const Json& c : sh["clients"].items) {
        const uid_t uid = static_cast<uid_t>(std::stoul(c["uid"].text));
        ASSERT_TRUE(truth.count(uid) != 0) << j.out;
        EXPECT_EQ(c["user"].text, want.at(uid).first) << j.out;
        EXPECT_EQ(c["mode"].text, uid == viewer.uid ? "view" : "interact") << j.out;
        EXPECT_EQ(c["owner"].text, uid == owner.uid ? "true" : "false") << j.out;
        EXPECT_EQ(c["session"].text, s.session) << j.out;
        EXPECT_EQ(c["client"].text, truth[uid].name) << j.out;
        EXPECT_EQ(c["pid"].text, std::to_string(truth[uid].pid)) << j.out;
        EXPECT_EQ(c["created"].text, std::to_string(truth[uid].created)) << j.out;
    }
}

// Someone else's share is refused (1), an unknown one is a usage error (2),
// a share whose server is not running is said so and is not an error —
// for clients and rotate alike.
TEST_F(OpsE2E, ClientsAndRotateRefuseStrangersAndSayNotRunning)
{
    const Account& viewer = user("viewer");
    Share s = share_make("ops.idle");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));

    for (const std::string cmd : {"clients", "rotate"}) {
        RunResult r = cli_run({cmd, s.name});
        EXPECT_EQ(r.status, 0) << r.both();
        EXPECT_EQ(r.out, s.name + ": not running\n") << r.both();
        EXPECT_EQ(r.err, "") << r.both();

        r = cli_run({cmd, "ops.nope"});
        EXPECT_EQ(r.status, 2) << r.both();
        EXPECT_EQ(r.err, "tmuxguard: " + cmd + ": unknown share 'ops.nope'\n") << r.both();
        EXPECT_EQ(r.out, "") << r.both();
    }
    RunResult r = cli_as(viewer, {"clients", s.name});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: clients: only the owner of " + s.name +
                         " or root may list the clients of it\n")
        << r.both();
    r = cli_as(viewer, {"rotate", s.name});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: rotate: only the owner of " + s.name + " or root may rotate it\n")
        << r.both();

    RunResult j = cli_run({"clients", "--json"});
    EXPECT_EQ(j.status, 0) << j.both();
    EXPECT_EQ(j.out, "{\"shares\":[{\"share\":\"" + s.name +
                         "\",\"running\":false,\"server_pid\":null,\"clients\":[],\"errors\":[]}]}\n")
        << j.both();
    r = cli_run({"reap"});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: reap: usage: tmuxguard reap --idle DURATION [--dry-run] [--json]\n");
    r = cli_run({"reap", "--idle", "10"});
    EXPECT_EQ(r.status, 2) << r.both();
}

// ---------------------------------------------------------------- reap

// Two guests attached; the viewer has been idle past --idle, the typist has
// just typed. --dry-run says what would happen and changes and logs
// nothing. Then reap detaches the viewer only (its attach ends), keeps the
// typist and the owner's idle client, ends the dormant session and keeps the
// one whose job prints every second; one record per action.
TEST_F(OpsE2E, ReapDetachesTheIdleGuestAndEndsOnlyTheDormantSession)
{
    const Account& owner = user("owner");
    const Account& viewer = user("viewer");
    const Account& typist = user("typist");
    Share s = share_make("ops.reap");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s),
                                            rule_permit("interact", typist.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    Outer own = owner_attach(s);
    ASSERT_TRUE(wait_until([&] { return share_has_client(s, owner.uid); })) << outer_capture(own);
    Outer v = guest_attach(s, viewer);
    Outer t = guest_attach(s, typist);
    ASSERT_FALSE(HasFailure());
    RunResult r = owner_tmux(s, {"new-session", "-d", "-s", "quiet", "sleep 100000"});
    ASSERT_EQ(r.status, 0) << r.both();
    r = owner_tmux(s, {"new-session", "-d", "-s", "busy", "while :; do echo tick; sleep 1; done"});
    ASSERT_EQ(r.status, 0) << r.both();

    std::this_thread::sleep_for(5s);
    outer_type(t, "echo typed-by-typist");
    ASSERT_TRUE(wait_until([&] { return contains(owner_pane(s), "typed-by-typist"); }))
        << owner_pane(s);

    // 1. --dry-run: the plan, nothing done, nothing logged.
    LogMark mark = log_mark();
    RunResult dry = cli_run({"reap", "--idle", "3s", "--dry-run"});
    ASSERT_EQ(dry.status, 0) << dry.both();
    EXPECT_EQ(dry.err, "") << dry.both();
    std::vector<std::string> lines = split_lines(dry.out);
    ASSERT_EQ(lines.size(), 2u) << dry.out;
    EXPECT_TRUE(std::regex_match(lines[0], std::regex("reap " + s.name + ": would detach " +
                                                      viewer.name + " \\(view, session " +
                                                      s.session + ", idle " + kSeconds + "\\)")))
        << dry.out;
    EXPECT_TRUE(std::regex_match(lines[1], std::regex("reap " + s.name +
                                                      ": would end session quiet \\(dormant " +
                                                      kSeconds + "\\)")))
        << dry.out;
    EXPECT_EQ(log_lines_since(mark), std::vector<std::string>{});
    EXPECT_EQ(tmux_clients(s).size(), 3u);
    EXPECT_TRUE(has_session(s, "quiet"));

    // 2. The real thing.
    outer_type(t, "echo typed-again");
    ASSERT_TRUE(wait_until([&] { return contains(owner_pane(s), "typed-again"); }));
    mark = log_mark();
    RunResult run = cli_run({"reap", "--idle", "3s"});
    ASSERT_EQ(run.status, 0) << run.both();
    EXPECT_EQ(run.err, "") << run.both();
    lines = split_lines(run.out);
    ASSERT_EQ(lines.size(), 2u) << run.out;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[0], m, std::regex("reap " + s.name + ": detached " +
                                                         viewer.name + " \\(view, session " +
                                                         s.session + ", idle " + kSeconds + "\\)")))
        << run.out;
    const std::string viewer_idle = m[1];
    EXPECT_GE(std::stoi(viewer_idle), 4) << run.out;
    ASSERT_TRUE(std::regex_match(lines[1], m, std::regex("reap " + s.name +
                                                         ": ended session quiet \\(dormant " +
                                                         kSeconds + "\\)")))
        << run.out;
    const std::string quiet_idle = m[1];

    EXPECT_TRUE(wait_until([&] { return outer_dead(v); }))
        << "the viewer's attach did not end:\n" << outer_capture(v);
    EXPECT_TRUE(contains(outer_history(v), "[detached (from session " + s.session + ")]"))
        << outer_history(v);
    EXPECT_FALSE(share_has_client(s, viewer.uid));
    EXPECT_TRUE(share_has_client(s, typist.uid));
    EXPECT_TRUE(share_has_client(s, owner.uid));
    EXPECT_FALSE(outer_dead(t));
    EXPECT_FALSE(has_session(s, "quiet"));
    EXPECT_TRUE(has_session(s, "busy"));
    EXPECT_TRUE(has_session(s, s.session));

    std::vector<Record> recs = records_of(mark, "reap");
    ASSERT_EQ(recs.size(), 2u);
    const Record& idle = recs[0];
    EXPECT_EQ(idle.get("decision"), "deny") << idle.line;
    EXPECT_EQ(idle.get("reason"), "idle") << idle.line;
    EXPECT_EQ(idle.get("uid"), std::to_string(viewer.uid)) << idle.line;
    EXPECT_EQ(idle.get("mode"), "view") << idle.line;
    EXPECT_EQ(idle.get("session"), s.session) << idle.line;
    EXPECT_EQ(idle.get("share"), s.name) << idle.line;
    EXPECT_EQ(idle.get("owner_uid"), std::to_string(owner.uid)) << idle.line;
    EXPECT_EQ(idle.get("server_pid"), std::to_string(s.server_pid)) << idle.line;
    EXPECT_EQ(idle.get("socket"), s.socket) << idle.line;
    EXPECT_EQ(idle.get("detail"), "idle " + viewer_idle + "s, detached by uid 0") << idle.line;
    const Record& dormant = recs[1];
    EXPECT_EQ(dormant.get("decision"), "deny") << dormant.line;
    EXPECT_EQ(dormant.get("reason"), "dormant") << dormant.line;
    EXPECT_EQ(dormant.get("uid"), std::to_string(owner.uid)) << dormant.line;
    EXPECT_EQ(dormant.get("session"), "quiet") << dormant.line;
    EXPECT_EQ(dormant.get("share"), s.name) << dormant.line;
    EXPECT_EQ(dormant.get("server_pid"), std::to_string(s.server_pid)) << dormant.line;
    EXPECT_EQ(dormant.get("detail"), "dormant " + quiet_idle + "s, ended by uid 0") << dormant.line;
}

// The owner reaps its own share (no record: it cannot open the log, a
// warning); a share whose only session is dormant is ended, and the output
// says the server exits with it.
TEST_F(OpsE2E, ReapOfTheLastSessionSaysTheServerExits)
{
    Share s = share_make("ops.last");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    std::this_thread::sleep_for(2500ms);

    RunResult j = cli_as(*s.owner, {"reap", "--idle", "1s", "--dry-run", "--json"});
    ASSERT_EQ(j.status, 0) << j.both();
    std::optional<Json> doc = JsonReader(j.out).document();
    ASSERT_TRUE(doc.has_value()) << j.out;
    EXPECT_EQ((*doc)["dry_run"].text, "true") << j.out;
    EXPECT_EQ((*doc)["idle_seconds"].text, "1") << j.out;
    ASSERT_EQ((*doc)["shares"].items.size(), 1u) << j.out;
    const Json& acts = (*doc)["shares"].items[0]["actions"];
    ASSERT_EQ(acts.items.size(), 1u) << j.out;
    EXPECT_EQ(acts.items[0]["action"].text, "end") << j.out;
    EXPECT_EQ(acts.items[0]["session"].text, s.session) << j.out;
    EXPECT_EQ(acts.items[0]["last"].text, "true") << j.out;
    EXPECT_EQ(acts.items[0]["done"].text, "false") << j.out;
    ASSERT_TRUE(proc_is_alive(s.server_pid));

    RunResult r = cli_as(*s.owner, {"reap", "--idle", "1s"});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_TRUE(std::regex_match(r.out, std::regex("reap " + s.name + ": ended session " +
                                                   s.session + " \\(dormant " + kSeconds +
                                                   "\\); it was the last session, so the "
                                                   "server exits\n")))
        << r.both();
    EXPECT_TRUE(wait_until([&] { return !proc_is_alive(s.server_pid); }));
    r = cli_run({"clients", s.name});
    EXPECT_EQ(r.out, s.name + ": not running\n") << r.both();
}

// ---------------------------------------------------------------- rotate

// rotate with guests attached: a new socket inode, the gate ACL on it at
// once, the same server; the viewer (still granted) stays attached and
// keeps seeing the pane; the member whose group membership is gone, and a
// user the owner added by hand, are revoked (the member's attach ends); a
// new guest attaches afterwards; the rotate record names both inodes. The
// owner can rotate its own share too.
TEST_F(OpsE2E, RotateRecreatesTheSocketWithItsAclAndDropsLostGrants)
{
    const Account& owner = user("owner");
    const Account& viewer = user("viewer");
    const Account& typist = user("typist");
    const Account& member = user("member");
    const Account& nobody = user("nobody");
    const std::string gate = World::get().gate_group();
    Share s = share_make("ops.rotate");
    ASSERT_NO_FATAL_FAILURE(policy_install(
        {s.policy_line(), rule_permit("view", viewer.name, s),
         rule_permit("interact", typist.name, s),
         rule_permit("interact", ":" + World::get().team_group(), s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    Outer v = guest_attach(s, viewer);
    Outer mo = guest_attach(s, member);
    ASSERT_FALSE(HasFailure());
    RunResult add = owner_tmux(s, {"server-access", "-a", "-w", nobody.name});
    ASSERT_EQ(add.status, 0) << add.both();
    GroupLeave left(member.name, World::get().team_group());
    ASSERT_TRUE(left.ok());

    const ino_t before = socket_inode(s.socket);
    ASSERT_NE(before, 0u);
    LogMark mark = log_mark();
    RunResult r = cli_run({"rotate", s.name});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    const ino_t after = socket_inode(s.socket);
    EXPECT_NE(after, before);
    const Account& first = nobody.uid < member.uid ? nobody : member;
    const Account& second = nobody.uid < member.uid ? member : nobody;
    EXPECT_EQ(r.out, "rotate " + s.name + ": socket inode " + std::to_string(before) + " -> " +
                         std::to_string(after) + ", ACL applied\nsync " + s.name + ": -" +
                         first.name + " revoked\nsync " + s.name + ": -" + second.name +
                         " revoked\n")
        << r.both();
    EXPECT_TRUE(contains(acl_entries(s.socket), "group:" + gate + ":rw-\n"))
        << acl_entries(s.socket);
    EXPECT_TRUE(std::regex_search(acl_entries(s.socket), std::regex("\nmask::rw[-x]\n")))
        << acl_entries(s.socket);

    // The same server; the viewer stays and sees the pane; the member is out.
    EXPECT_TRUE(proc_is_alive(s.server_pid));
    EXPECT_TRUE(wait_until([&] { return outer_dead(mo); }))
        << "the member's attach did not end:\n" << outer_capture(mo);
    EXPECT_FALSE(share_has_client(s, member.uid));
    EXPECT_TRUE(share_has_client(s, viewer.uid));
    owner_type(s, "echo after-rotate-$((6*7))");
    EXPECT_TRUE(wait_until([&] { return contains(outer_capture(v), "after-rotate-42"); }))
        << outer_capture(v);
    RunResult list = owner_tmux(s, {"server-access", "-l"});
    std::vector<std::string> entries = split_lines(list.out);
    std::sort(entries.begin(), entries.end());
    std::vector<std::string> expected = {owner.name + " (W)", viewer.name + " (R)",
                                         typist.name + " (W)"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(entries, expected) << list.both();

    // A new guest gets in through the new socket.
    Outer t = guest_attach(s, typist);
    EXPECT_TRUE(share_has_client(s, typist.uid)) << outer_capture(t);

    std::vector<Record> recs = records_of(mark, "rotate");
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].get("decision"), "allow") << recs[0].line;
    EXPECT_EQ(recs[0].get("reason"), "rotated") << recs[0].line;
    EXPECT_EQ(recs[0].get("share"), s.name) << recs[0].line;
    EXPECT_EQ(recs[0].get("uid"), "0") << recs[0].line;
    EXPECT_EQ(recs[0].get("owner_uid"), std::to_string(owner.uid)) << recs[0].line;
    EXPECT_EQ(recs[0].get("server_pid"), std::to_string(s.server_pid)) << recs[0].line;
    EXPECT_EQ(recs[0].get("socket"), s.socket) << recs[0].line;
    EXPECT_EQ(recs[0].get("detail"),
              "socket inode " + std::to_string(before) + " -> " + std::to_string(after))
        << recs[0].line;
    std::vector<Record> revokes = records_of(mark, "revoke");
    EXPECT_EQ(revokes.size(), 2u);

    // The owner rotates its own share (--json); the typist stays attached.
    RunResult j = cli_as(owner, {"rotate", s.name, "--json"});
    EXPECT_EQ(j.status, 0) << j.both();
    std::optional<Json> doc = JsonReader(j.out).document();
    ASSERT_TRUE(doc.has_value()) << j.out;
    const Json& sh = (*doc)["shares"].items.at(0);
    EXPECT_EQ(sh["old_inode"].text, std::to_string(after)) << j.out;
    EXPECT_EQ(sh["new_inode"].text, std::to_string(socket_inode(s.socket))) << j.out;
    EXPECT_NE(socket_inode(s.socket), after);
    EXPECT_EQ(sh["acl_applied"].text, "true") << j.out;
    EXPECT_EQ(sh["sync"]["changes"].items.size(), 0u) << j.out;
    EXPECT_EQ(sh["errors"].items.size(), 0u) << j.out;
    EXPECT_TRUE(contains(acl_entries(s.socket), "group:" + gate + ":rw-\n"));
    EXPECT_TRUE(share_has_client(s, typist.uid));
    expect_allowed(attach_check(viewer, {s.name}), "view");
}

// A server that does not react (stopped): rotate waits its 5 s, exits 3
// and says the old socket is still in place with its ACL, and writes no
// rotate record. When the server later handles the signal, its new socket
// lacks the ACL (the viewer is refused, the safe direction) until sync.
TEST_F(OpsE2E, RotateOfAStuckServerSaysTheSocketIsUnchanged)
{
    const Account& viewer = user("viewer");
    Share s = share_make("ops.stuck");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const ino_t before = socket_inode(s.socket);
    const std::string with_acl = acl_entries(s.socket);
    ASSERT_TRUE(contains(with_acl, "group:" + World::get().gate_group() + ":rw-\n")) << with_acl;
    ASSERT_EQ(kill(s.server_pid, SIGSTOP), 0);
    struct Continue {
        pid_t pid;
        ~Continue() { kill(pid, SIGCONT); }
    } resume{s.server_pid};
    ASSERT_TRUE(wait_until([&] { return proc_state(s.server_pid) == 'T'; }));

    LogMark mark = log_mark();
    RunResult r = cli_run({"rotate", s.name});
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_EQ(r.out, "") << r.both();
    EXPECT_EQ(r.err, "tmuxguard: rotate: " + s.name +
                         ": the server did not re-create its socket within 5s; the old socket "
                         "(inode " + std::to_string(before) +
                         ") is still in place with its ACL; should the server re-create it "
                         "later, the new one lacks the ACL (guests are refused) until "
                         "'tmuxguard sync " + s.name + "'\n")
        << r.both();
    EXPECT_EQ(socket_inode(s.socket), before);
    EXPECT_EQ(acl_entries(s.socket), with_acl);
    EXPECT_EQ(records_of(mark, "rotate").size(), 0u);

    ASSERT_EQ(kill(s.server_pid, SIGCONT), 0);
    ASSERT_TRUE(wait_until([&] {
        ino_t now = socket_inode(s.socket);
        return now != 0 && now != before;
    })) << "the resumed server did not handle the pending SIGUSR1";
    expect_denied(attach_check(viewer, {s.name}), "acl-gate-missing");
    RunResult sync = cli_run({"sync", s.name});
    EXPECT_EQ(sync.status, 0) << sync.both();
    expect_allowed(attach_check(viewer, {s.name}), "view");
}

}  // namespace tge2e
