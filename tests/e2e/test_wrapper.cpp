// The wrapper as a hostile caller meets it: environment, argv, options,
// concurrency, and the binary itself (static, setgid, useless when copied).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

// Builds a library whose constructor creates `marker` when it is loaded.
std::string marker_library_build(const std::string& marker)
{
    const std::string src = path_scratch() + "/tgmark.c";
    const std::string lib = path_scratch() + "/libtgmark.so";
    std::ofstream(src) << "#include <fcntl.h>\n#include <unistd.h>\n"
                          "__attribute__((constructor)) static void tg_mark(void)\n"
                          "{ int fd = open(\""
                       << marker
                       << "\", O_WRONLY | O_CREAT, 0644);\n"
                          "  if (fd >= 0) close(fd); }\n";
    RunOptions slow;
    slow.timeout = 60s;
    RunResult r = proc_run({"g++", "-shared", "-fPIC", "-o", lib, src}, slow);
    EXPECT_EQ(r.status, 0) << r.both();
    return lib;
}

// One -n attempt of the concurrency test and what its record must say.
struct Attempt {
    const Account* who;
    std::string decision, reason, mode;
};

// Every field of the contract present, and the facts of this attempt.
void expect_attempt_record(const Record& rec, const Attempt& a, const Share& s)
{
    static const std::regex ts(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$)");
    for (const char* key : {"ts", "event", "decision", "reason", "uid", "share", "mode",
                            "owner_uid", "socket", "server_pid", "pid", "tty", "session", "rule"})
        EXPECT_TRUE(rec.has(key)) << key << " missing: " << rec.line;
    EXPECT_TRUE(std::regex_match(rec.get("ts"), ts)) << rec.line;
    EXPECT_EQ(rec.get("event"), "check") << rec.line;
    EXPECT_EQ(rec.get("share"), s.name) << rec.line;
    EXPECT_EQ(rec.get("uid"), std::to_string(a.who->uid)) << rec.line;
    EXPECT_EQ(rec.get("decision"), a.decision) << rec.line;
    EXPECT_EQ(rec.get("reason"), a.reason) << rec.line;
    if (a.decision != "allow")
        return;
    EXPECT_EQ(rec.get("mode"), a.mode) << rec.line;
    EXPECT_EQ(rec.get("owner_uid"), std::to_string(s.owner->uid)) << rec.line;
    EXPECT_EQ(rec.get("socket"), s.socket) << rec.line;
    EXPECT_EQ(rec.get("server_pid"), std::to_string(s.server_pid)) << rec.line;
}

// `who`'s -n attempt with each row of extra environment gives the answer and
// record it gives without, and never runs the marker library.
void expect_env_changes_nothing(const Account& who, const Share& s,
                                const std::vector<std::vector<std::string>>& rows,
                                const std::string& marker)
{
    LogMark mark = log_mark();
    RunResult base = proc_run_as(who.name, {path_attach(), "-n", s.name});
    std::optional<Record> base_rec = log_record_of(mark, base.pid);
    ASSERT_TRUE(base_rec.has_value()) << base.both();
    for (const auto& env : rows) {
        SCOPED_TRACE(who.role + " with " + env.front() + (env.size() > 1 ? " and all others" : ""));
        RunResult r = proc_run_as(who.name, {path_attach(), "-n", s.name}, env);
        EXPECT_EQ(r.status, base.status) << r.both();
        EXPECT_EQ(r.out, base.out);
        EXPECT_EQ(r.err, base.err);
        expect_record(log_record_of(mark, r.pid), base_rec->get("decision"),
                      base_rec->get("reason"), base_rec->get("mode"));
        EXPECT_FALSE(fs::exists(marker)) << "the preloaded library ran";
    }
}

// Argument lists the wrapper must refuse as usage errors: unknown options,
// tmux's own options, malformed operands, names with control bytes.
std::vector<std::vector<std::string>> usage_rows(const Share& s)
{
    return {
        {"-z", s.name},
        {"-d", s.name},
        {"-x", s.name},
        {"-c", "/tmp", s.name},
        {"-S", "/tmp/x", s.name},
        {"-L", "x", s.name},
        {"-f", "/dev/null", s.name},
        {"-E", s.name},
        {"--help"},
        {},
        {s.name, "extra"},
        {s.name, "-r"},
        {"-t"},
        {"-t", "bad:name", s.name},
        {"-t", "=" + s.session, s.name},
        {"-r", "-r", s.name},
        {"../" + s.name},
        {"a/b"},
        {"-" + s.name},
        {"evil\nname"},
        {"\x1b[31mred"},
        {"-t", "x\ny", s.name},
        {std::string(300, 'a')},
    };
}

}  // namespace

// LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, TMUX, TMUX_TMPDIR and GCONV_PATH in
// the caller's environment change neither the decision nor what is loaded.
TEST_F(E2E, CallerEnvironmentChangesNothing)
{
    const Account& viewer = user("viewer");
    Share s = share_make("wrap.env");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string marker = viewer.home + "/preload-ran";
    const std::string lib = marker_library_build(marker);
    RunResult control = proc_run_as(viewer.name, {"/bin/true"}, {"LD_PRELOAD=" + lib});
    ASSERT_TRUE(fs::exists(marker)) << "the marker library does not work: " << control.both();
    fs::remove(marker);

    const std::vector<std::string> hostile = {"LD_PRELOAD=" + lib,
                                              "LD_LIBRARY_PATH=" + path_scratch(),
                                              "LD_AUDIT=" + lib,
                                              "TMUX=/tmp/tmux-0/default,1,0",
                                              "TMUX_TMPDIR=" + viewer.home,
                                              "GCONV_PATH=" + path_scratch()};
    std::vector<std::vector<std::string>> rows;
    for (const auto& var : hostile)
        rows.push_back({var});
    rows.push_back(hostile);
    expect_env_changes_nothing(viewer, s, rows, marker);
    expect_env_changes_nothing(user("nobody"), s, rows, marker);
    Outer o = outer_attach(viewer, {s.name}, hostile);
    std::string readonly;
    EXPECT_TRUE(wait_until([&] { return share_has_client(s, viewer.uid, &readonly); }))
        << "the viewer could not attach with a hostile environment:\n"
        << outer_capture(o);
    EXPECT_EQ(readonly, "1");
    EXPECT_FALSE(fs::exists(marker)) << "the preloaded library ran in the attach";
}

// argc 0 (execve with an empty argv) is refused and attaches nothing.
TEST_F(E2E, EmptyArgvIsRefused)
{
    const Account& viewer = user("viewer");
    Share s = share_make("wrap.argc0");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("interact", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    RunOptions opt;
    opt.user = viewer.name;
    opt.empty_argv = true;
    RunResult r = proc_run({path_attach()}, opt);
    expect_denied(r, "usage");
    EXPECT_TRUE(share_clients(s).empty());
}

// Unknown options, tmux's own options and malformed operands: usage, exit 2.
TEST_F(E2E, UnknownOptionsAndTmuxOptionsAreRefused)
{
    const Account& viewer = user("viewer");
    Share s = share_make("wrap.usage");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("interact", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::vector<std::vector<std::string>> rows = usage_rows(s);
    LogMark mark = log_mark();
    for (const auto& args : rows) {
        std::string shown;
        for (const auto& a : args)
            shown += " " + a;
        SCOPED_TRACE("tmuxguard-attach" + shown);
        expect_denied(attach_plain(viewer, args), "usage");
    }
    EXPECT_TRUE(share_clients(s).empty());
    for (const auto& line : log_lines_since(mark)) {
        EXPECT_TRUE(json_parse_flat(line).has_value()) << "not one flat JSON object: " << line;
        EXPECT_NE(line.find("\"decision\":\"deny\""), std::string::npos) << line;
    }
}

// 100 concurrent attempts of allowed and denied users: exactly 100 new lines,
// each one well-formed JSON with the facts of its own attempt.
TEST_F(E2E, HundredConcurrentAttemptsGiveHundredRecords)
{
    Share s = share_make("wrap.many");
    ASSERT_NO_FATAL_FAILURE(policy_install(
        {s.policy_line(), rule_permit("view", user("viewer").name, s),
         rule_permit("interact", user("typist").name, s), rule_deny(user("denied").name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::vector<Attempt> kinds = {{&user("viewer"), "allow", "permitted", "view"},
                                        {&user("typist"), "allow", "permitted", "interact"},
                                        {&user("nobody"), "deny", "no-rule", ""},
                                        {&user("denied"), "deny", "denied-by-rule", ""}};
    LogMark mark = log_mark();
    std::vector<Child> children;
    std::map<std::string, const Attempt*> attempt_of_pid;
    for (int i = 0; i < 100; ++i) {
        const Attempt& a = kinds[static_cast<std::size_t>(i) % kinds.size()];
        RunOptions as;
        as.user = a.who->name;
        children.push_back(proc_spawn({path_attach(), "-n", s.name}, as));
        attempt_of_pid[std::to_string(children.back().pid)] = &a;
    }
    for (auto& c : children) {
        RunResult r = proc_collect(c, 30s);
        const Attempt& a = *attempt_of_pid[std::to_string(c.pid)];
        EXPECT_EQ(r.status, a.decision == "allow" ? 0 : 1) << a.who->role << " " << r.both();
    }
    const std::vector<std::string> lines = log_lines_since(mark);
    ASSERT_EQ(lines.size(), 100u);
    std::set<std::string> seen;
    for (const auto& line : lines) {
        auto fields = json_parse_flat(line);
        ASSERT_TRUE(fields.has_value()) << "not one flat JSON object: " << line;
        Record rec{*fields, line};
        const std::string pid = rec.get("pid");
        ASSERT_EQ(attempt_of_pid.count(pid), 1u) << "record of an unknown pid: " << line;
        EXPECT_TRUE(seen.insert(pid).second) << "two records of one attempt: " << line;
        expect_attempt_record(rec, *attempt_of_pid[pid], s);
    }
}

// The wrapper is static: no NEEDED, no INTERP, and a traced -n run opens no
// shared object and no NSS file.
TEST_F(E2E, WrapperIsStaticAndNeverLoadsNss)
{
    RunResult dyn = proc_run({"readelf", "-d", path_attach()});
    EXPECT_FALSE(contains(dyn.out, "(NEEDED)")) << dyn.both();
    RunResult prog = proc_run({"readelf", "-l", path_attach()});
    EXPECT_EQ(prog.status, 0) << prog.both();
    EXPECT_FALSE(contains(prog.out, "INTERP")) << prog.both();

    const Account& viewer = user("viewer");
    Share s = share_make("wrap.static");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string trace = path_scratch() + "/strace.out";
    RunResult r = proc_run({"strace", "-f", "-e", "trace=openat,open", "-o", trace, "-u",
                            viewer.name, path_attach(), "-n", s.name});
    expect_allowed(r, "view");
    const std::string opened = file_read(trace);
    const std::string compiled = std::filesystem::path(tg::paths::compiled_policy).filename();
    EXPECT_TRUE(contains(opened, "\"" + compiled + "\"")) << "the trace saw nothing:\n" << opened;
    const std::regex shared_object(R"(\.so(\.[0-9]+)*")");
    EXPECT_FALSE(std::regex_search(opened, shared_object)) << opened;
    for (const char* nss : {"libnss", "nsswitch.conf", "/etc/passwd", "/etc/group"})
        EXPECT_FALSE(contains(opened, nss)) << nss << " opened:\n" << opened;
}

// Installed root:GATE 2755; a copy without the setgid bit attaches nobody.
TEST_F(E2E, WrapperCopyWithoutSetgidCannotAttach)
{
    struct stat st {};
    ASSERT_EQ(stat(path_attach().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_gid, World::get().gate_gid());
    EXPECT_EQ(st.st_mode & 07777, 02755u);

    const Account& viewer = user("viewer");
    Share s = share_make("wrap.copy");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("interact", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string copy = path_scratch() + "/tmuxguard-attach-copy";
    fs::copy_file(path_attach(), copy, fs::copy_options::overwrite_existing);
    ASSERT_EQ(chmod(copy.c_str(), 0755), 0);

    expect_allowed(attach_check(viewer, {s.name}), "interact");
    RunResult r = proc_run_as(viewer.name, {copy, "-n", s.name});
    EXPECT_NE(r.status, 0) << r.both();
    EXPECT_TRUE(std::regex_match(r.err, std::regex("tmuxguard: denied: "
                                                   "(gate-mismatch|socket-[a-z-]+|path-[a-z-]+|acl-"
                                                   "[a-z-]+|connect-failed|log-unavailable)\n")))
        << r.both();
    Outer o = outer_attach(viewer, {s.name}, {}, copy);
    EXPECT_TRUE(wait_until([&] { return outer_dead(o); })) << outer_capture(o);
    EXPECT_NE(outer_dead_status(o), "0") << outer_capture(o);
    EXPECT_FALSE(share_has_client(s, viewer.uid)) << "the copy attached";
}

}  // namespace tge2e

namespace tge2e {

// Both installed programs carry the hardening the build promises: PIE, full
// RELRO (GNU_RELRO + BIND_NOW), a non-executable stack, the stack protector
// and FORTIFY's checked functions.
TEST_F(E2E, InstalledProgramsAreHardened)
{
    for (const std::string& program : {path_attach(), path_cli()}) {
        RunResult header = proc_run({"readelf", "-h", program});
        EXPECT_TRUE(contains(header.out, "DYN (Position-Independent Executable")) << header.both();
        RunResult dyn = proc_run({"readelf", "-d", program});
        EXPECT_TRUE(contains(dyn.out, "BIND_NOW")) << program << "\n" << dyn.both();
        EXPECT_TRUE(std::regex_search(dyn.out, std::regex(R"(FLAGS_1\).*NOW.*PIE)"))) << dyn.both();
        RunResult prog = proc_run({"readelf", "-lW", program});
        EXPECT_TRUE(contains(prog.out, "GNU_RELRO")) << program << "\n" << prog.both();
        EXPECT_TRUE(std::regex_search(prog.out, std::regex(R"(GNU_STACK[^\n]* RW  )")))
            << "stack must be RW, not RWE:\n" << prog.both();
        RunResult syms = proc_run({"nm", "-D", program});  // the dynamic CLI
        RunResult all = proc_run({"nm", program});        // the static wrapper
        const std::string symbols = syms.out + all.out;
        EXPECT_TRUE(contains(symbols, "__stack_chk_fail")) << program;
        EXPECT_TRUE(std::regex_search(symbols, std::regex(R"(__[a-z]+_chk\b)"))) << program;
    }
}

}  // namespace tge2e
