// The E2E fixture: policy files, shares served by their owner, outer tmux
// servers running a guest's attach, and the checks every scenario shares.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

// Writes `text` to `path` through a fresh root-owned 0644 inode (rename).
void file_replace(const std::string& path, const std::string& text)
{
    const std::string tmp = path + ".e2e-tmp";
    fs::remove(tmp);
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    ASSERT_GE(fd, 0) << tmp << ": " << std::strerror(errno);
    ssize_t n = write(fd, text.data(), text.size());
    bool ok = n == static_cast<ssize_t>(text.size()) && fchown(fd, 0, 0) == 0 &&
              fchmod(fd, 0644) == 0 && fsync(fd) == 0;
    close(fd);
    ASSERT_TRUE(ok) << tmp << ": " << std::strerror(errno);
    ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0) << path << ": " << std::strerror(errno);
}

// `s` without trailing newlines.
std::string trim_newline(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

// The words single-quoted for sh -c.
std::string shell_join(const std::vector<std::string>& words)
{
    std::string out;
    for (const auto& w : words) {
        if (!out.empty())
            out += ' ';
        out += "'" + w + "'";  // the tests pass no quote characters
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------- policy

int policy_body_line(int i)
{
    return kPolicyHeaderLines + 1 + i;
}

std::string policy_rule_source(int i)
{
    return std::string(tg::paths::policy_file) + ":" + std::to_string(policy_body_line(i));
}

void policy_write(const std::vector<std::string>& body)
{
    std::string text = "# written by tests/e2e\n"
                       "set runtime-dir " +
                       path_runtime_dir() +
                       "\n"
                       "set tmux /usr/bin/tmux\n";
    for (const auto& line : body)
        text += line + "\n";
    file_replace(tg::paths::policy_file, text);
}

void policy_dropin_write(const std::string& name, const std::vector<std::string>& lines)
{
    std::string text;
    for (const auto& line : lines)
        text += line + "\n";
    file_replace(std::string(tg::paths::policy_dir) + "/" + name, text);
}

void policy_dropins_clear()
{
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(tg::paths::policy_dir, ec))
        fs::remove(e.path(), ec);
}

RunResult cli_run(const std::vector<std::string>& args)
{
    std::vector<std::string> argv = {path_cli()};
    argv.insert(argv.end(), args.begin(), args.end());
    return proc_run(argv);
}

// ---------------------------------------------------------------- fixture

std::string Share::policy_line() const
{
    std::string line = "share " + name + " owner " + owner->name;
    if (custom_socket)
        line += " socket " + socket;
    return line;
}

std::string rule_permit(std::string_view mode, std::string_view who, const Share& s,
                        std::string_view extra)
{
    std::string line = "permit " + std::string(mode) + " " + std::string(who) + " on " + s.name;
    if (!extra.empty())
        line += " " + std::string(extra);
    return line;
}

std::string rule_deny(std::string_view who, const Share& s)
{
    return "deny " + std::string(who) + " on " + s.name;
}

void E2E::SetUp()
{
    ASSERT_TRUE(World::get().complete())
        << "the e2e world (root, install, accounts) could not be set up; "
           "see the failure reported at global set-up";
}

void E2E::TearDown()
{
    if (!World::get().complete())
        return;
    for (const auto& o : outers_) {
        (void)proc_run({"tmux", "-L", o.name, "kill-server"});
        proc_stop(o.server_pid);
        fs::remove("/tmp/tmux-0/" + o.name);
    }
    for (const auto& s : served_)
        proc_stop(s.server_pid);
    for (pid_t pid : helpers_)
        proc_stop(pid);
    policy_dropins_clear();
    policy_write({});
    RunResult r = cli_run({"reload"});
    EXPECT_EQ(r.status, 0) << "tmuxguard reload of the empty policy\n" << r.both();
}

Share E2E::share_make(const std::string& name, const std::string& socket)
{
    Share s;
    s.name = name;
    s.session = name;
    for (char& c : s.session)
        c = c == '.' ? '_' : c;
    s.owner = &user("owner");
    s.custom_socket = !socket.empty();
    s.socket = s.custom_socket
                   ? socket
                   : path_runtime_dir() + "/" + std::to_string(s.owner->uid) + "/" + name;
    return s;
}

void E2E::policy_install(const std::vector<std::string>& body)
{
    ASSERT_NO_FATAL_FAILURE(policy_write(body));
    RunResult r = cli_run({"reload"});
    ASSERT_EQ(r.status, 0) << "tmuxguard reload\n" << r.both();
}

void E2E::serve(Share& s)
{
    RunResult r = proc_run_as(s.owner->name, {path_cli(), "serve", s.name});
    ASSERT_EQ(r.status, 0) << "tmuxguard serve " << s.name << " as " << s.owner->name << "\n"
                           << r.both();
    RunResult pid;
    ASSERT_TRUE(wait_until([&] {
        pid = owner_tmux(s, {"display-message", "-p", "-t", "=" + s.session + ":", "#{pid}"});
        return pid.status == 0;
    })) << "no server answers at "
        << s.socket << " with session " << s.session << "\n"
        << pid.both();
    s.server_pid = static_cast<pid_t>(std::stol(pid.out));
    served_.push_back(s);
    World::get().outer_register_pid(s.server_pid);
}

RunResult E2E::owner_tmux(const Share& s, const std::vector<std::string>& args)
{
    std::vector<std::string> argv = {"tmux", "-S", s.socket};
    argv.insert(argv.end(), args.begin(), args.end());
    return proc_run_as(s.owner->name, argv);
}

std::string E2E::owner_pane(const Share& s)
{
    return owner_tmux(s, {"capture-pane", "-p", "-t", "=" + s.session + ":"}).out;
}

void E2E::owner_type(const Share& s, const std::string& text)
{
    const std::string target = "=" + s.session + ":";
    RunResult r = owner_tmux(s, {"send-keys", "-t", target, "-l", text});
    EXPECT_EQ(r.status, 0) << r.both();
    r = owner_tmux(s, {"send-keys", "-t", target, "Enter"});
    EXPECT_EQ(r.status, 0) << r.both();
}

std::vector<std::string> E2E::share_clients(const Share& s)
{
    return split_lines(
        owner_tmux(s, {"list-clients", "-F", "#{client_uid} #{client_readonly}"}).out);
}

bool E2E::share_has_client(const Share& s, uid_t uid, std::string* readonly)
{
    const std::string want = std::to_string(uid) + " ";
    for (const auto& line : share_clients(s)) {
        if (line.rfind(want, 0) == 0) {
            if (readonly != nullptr)
                *readonly = line.substr(want.size());
            return true;
        }
    }
    return false;
}

RunResult E2E::attach_check(const Account& who, const std::vector<std::string>& args,
                            std::vector<std::string> extra_env)
{
    std::vector<std::string> argv = {path_attach(), "-n"};
    argv.insert(argv.end(), args.begin(), args.end());
    return proc_run_as(who.name, argv, std::move(extra_env));
}

RunResult E2E::attach_plain(const Account& who, const std::vector<std::string>& args)
{
    std::vector<std::string> argv = {path_attach()};
    argv.insert(argv.end(), args.begin(), args.end());
    return proc_run_as(who.name, argv);
}

Outer E2E::outer_attach(const Account& guest, const std::vector<std::string>& args,
                        const std::vector<std::string>& env, const std::string& binary)
{
    std::string cmd = "exec runuser -u " + guest.name + " -- ";
    if (!env.empty())
        cmd += "env " + shell_join(env) + " ";
    cmd += shell_join({binary.empty() ? path_attach() : binary}) + " " + shell_join(args);
    return outer_start(cmd);
}

Outer E2E::outer_start(const std::string& cmd)
{
    Outer o;
    o.name = World::get().unique_name("outer");
    World::get().outer_register_name(o.name);
    RunResult r = proc_run({"tmux", "-L", o.name, "-f", path_outer_conf(), "new-session", "-d",
                            "-s", "outer", "-x", "160", "-y", "40", cmd});
    EXPECT_EQ(r.status, 0) << "outer tmux: " << cmd << "\n" << r.both();
    r = proc_run({"tmux", "-L", o.name, "display-message", "-p", "#{pid}"});
    if (r.status == 0)
        o.server_pid = static_cast<pid_t>(std::stol(r.out));
    World::get().outer_register_pid(o.server_pid);
    outers_.push_back(o);
    return o;
}

std::string E2E::outer_capture(const Outer& o)
{
    return proc_run({"tmux", "-L", o.name, "capture-pane", "-p", "-t", "=outer:"}).out;
}

void E2E::outer_type(const Outer& o, const std::string& text)
{
    RunResult r = proc_run({"tmux", "-L", o.name, "send-keys", "-t", "=outer:", "-l", text});
    EXPECT_EQ(r.status, 0) << r.both();
    outer_keys(o, {"Enter"});
}

void E2E::outer_keys(const Outer& o, const std::vector<std::string>& keys)
{
    std::vector<std::string> argv = {"tmux", "-L", o.name, "send-keys", "-t", "=outer:"};
    argv.insert(argv.end(), keys.begin(), keys.end());
    RunResult r = proc_run(argv);
    EXPECT_EQ(r.status, 0) << r.both();
}

bool E2E::outer_dead(const Outer& o)
{
    return trim_newline(proc_run({"tmux", "-L", o.name, "display-message", "-p", "-t",
                                  "=outer:", "#{pane_dead}"})
                            .out) == "1";
}

std::string E2E::outer_dead_status(const Outer& o)
{
    return trim_newline(proc_run({"tmux", "-L", o.name, "display-message", "-p", "-t",
                                  "=outer:", "#{pane_dead_status}"})
                            .out);
}

// ---------------------------------------------------------------- assertions

int reason_exit_status(std::string_view reason)
{
    for (std::string_view r : {"usage", "policy-invalid", "policy-unsafe", "policy-missing"}) {
        if (reason == r)
            return 2;
    }
    for (std::string_view r : {"log-unavailable", "tmux-unsafe", "confine-failed", "internal-error"}) {
        if (reason == r)
            return 3;
    }
    return 1;
}

void expect_denied(const RunResult& r, std::string_view reason)
{
    EXPECT_EQ(r.status, reason_exit_status(reason)) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: denied: " + std::string(reason) + "\n") << r.both();
    EXPECT_EQ(r.out, "") << r.both();
}

void expect_allowed(const RunResult& r, std::string_view mode)
{
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out + r.err, "tmuxguard: allowed: " + std::string(mode) + "\n") << r.both();
}

void expect_record(const std::optional<Record>& rec, std::string_view decision,
                   std::string_view reason, std::string_view mode)
{
    ASSERT_TRUE(rec.has_value()) << "no decision record found in " << tg::paths::default_log;
    EXPECT_EQ(rec->get("decision"), decision) << rec->line;
    EXPECT_EQ(rec->get("reason"), reason) << rec->line;
    if (!mode.empty()) {
        EXPECT_EQ(rec->get("mode"), mode) << rec->line;
    }
}

bool contains(std::string_view hay, std::string_view needle)
{
    return hay.find(needle) != std::string_view::npos;
}

std::vector<std::string> split_lines(std::string_view text)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos)
            nl = text.size();
        out.emplace_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

std::string local_time_format(long minutes_from_now, TimeFormat f)
{
    std::time_t t = std::time(nullptr) + minutes_from_now * 60;
    struct tm tm {};
    localtime_r(&t, &tm);
    char buf[64];
    std::size_t n = 0;
    switch (f) {
    case TimeFormat::hhmm: n = std::strftime(buf, sizeof buf, "%H:%M", &tm); break;
    case TimeFormat::stamp: n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M", &tm); break;
    case TimeFormat::weekday: n = std::strftime(buf, sizeof buf, "%a", &tm); break;
    }
    return std::string(buf, n);
}

}  // namespace tge2e
