// `tmuxguard lint` as an admin and a user run it: real files in a root-owned
// directory under /var/lib and in a test account's home, judged by the
// exact lines printed, the exit status and the JSON object.
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "harness.hpp"

namespace tge2e {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFixWritable =
    " (fix: make the file and every directory above it owned by root or the config's owner "
    "and not writable by anyone else (chmod go-w))";
constexpr const char* kFixPrivilege =
    " (fix: run privileged commands by hand in a pane, not from the tmux config)";

// Exact output lines of the findings used below.
std::string line_sudo(const std::string& file, int line, const std::string& where,
                      const std::string& tool)
{
    return file + ":" + std::to_string(line) + ": high: " + where + " runs " + tool +
           " (whoever can trigger it gets what " + tool + " grants)" + kFixPrivilege;
}

std::string line_passthrough(const std::string& file, int line)
{
    return file + ":" + std::to_string(line) +
           ": high: allow-passthrough lets programs in a pane write raw escape sequences to the "
           "terminal of every attached guest (fix: set -g allow-passthrough off)";
}

std::string line_toggle(const std::string& file, int line)
{
    return file + ":" + std::to_string(line) +
           ": high: key binding: switch-client -r toggles the client's read-only flag: a "
           "read-only guest can make itself writable (tmux before 3.7) (fix: remove "
           "switch-client -r from key bindings and hooks)";
}

std::string line_clipboard(const std::string& file, int line)
{
    return file + ":" + std::to_string(line) +
           ": medium: set-clipboard on lets programs in a pane set the clipboard of every "
           "attached client (OSC 52) (fix: set -s set-clipboard external)";
}

std::string line_source_writable(const std::string& file, int line, const std::string& sourced,
                                 const std::string& why)
{
    return file + ":" + std::to_string(line) + ": high: source-file " + sourced +
           " can be changed by others: " + why + kFixWritable;
}

}  // namespace

// Each test gets a root-owned 0755 directory under /var/lib (so nothing on
// the way is writable by others), removed at the end even after a failure;
// files it put in a test account's home are removed too.
class LintE2E : public E2E {
protected:
    void SetUp() override
    {
        E2E::SetUp();
        if (HasFatalFailure())
            return;
        char tmpl[] = "/var/lib/tmuxguard-lint-e2e.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
        dir_ = tmpl;
        ASSERT_EQ(chmod(dir_.c_str(), 0755), 0) << std::strerror(errno);
    }
    void TearDown() override
    {
        std::error_code ignored;
        if (!dir_.empty())
            fs::remove_all(dir_, ignored);
        for (const std::string& p : home_paths_)
            fs::remove_all(p, ignored);
        E2E::TearDown();
    }

    // DIR/REL.
    [[nodiscard]] std::string at(const std::string& rel) const { return dir_ + "/" + rel; }

    // Writes `text` to `path` owned by uid:gid with `mode` (a fresh inode).
    static void file_put(const std::string& path, const std::string& text, uid_t uid = 0,
                         gid_t gid = 0, mode_t mode = 0644)
    {
        std::error_code ignored;
        fs::remove(path, ignored);
        std::ofstream f(path);
        f << text;
        f.close();
        ASSERT_TRUE(f.good()) << path;
        ASSERT_EQ(chown(path.c_str(), uid, gid), 0) << path << ": " << std::strerror(errno);
        ASSERT_EQ(chmod(path.c_str(), mode), 0) << path << ": " << std::strerror(errno);
    }

    // A directory owned by uid:gid with `mode`.
    static void dir_put(const std::string& path, uid_t uid, gid_t gid, mode_t mode)
    {
        ASSERT_TRUE(fs::create_directories(path) || fs::is_directory(path)) << path;
        ASSERT_EQ(chown(path.c_str(), uid, gid), 0) << path << ": " << std::strerror(errno);
        ASSERT_EQ(chmod(path.c_str(), mode), 0) << path << ": " << std::strerror(errno);
    }

    // The gid of a group by name.
    static gid_t group_gid(const std::string& name)
    {
        const struct group* g = getgrnam(name.c_str());
        EXPECT_NE(g, nullptr) << name;
        return g != nullptr ? g->gr_gid : 0;
    }

    // Remembers a path in a test account's home for removal.
    void home_path_track(const std::string& p) { home_paths_.push_back(p); }

    std::string dir_;
    std::vector<std::string> home_paths_;
};

// One line per finding, FILE:LINE: SEVERITY: MESSAGE (fix: FIX), sorted by
// file then line; the file that a source-file reads is linted too (and a
// cycle back to the first file ends there); exit 1 on findings, 0 without.
TEST_F(LintE2E, FindingsAreOneLineEachSortedByFileThenLine)
{
    const std::string main = at("main.conf");
    const std::string extra = at("extra.conf");
    ASSERT_NO_FATAL_FAILURE(file_put(main, "set -g allow-passthrough on\n"
                                           "bind -n M-w switch-client -r\n"
                                           "# run-shell 'sudo -n true' in a comment\n"
                                           "run-shell 'echo pseudo; sudo -n true'\n"
                                           "source-file " + extra + "\n"));
    ASSERT_NO_FATAL_FAILURE(file_put(extra, "set -s set-clipboard on\nsource-file " + main + "\n"));
    RunResult r = cli_run({"lint", main});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    EXPECT_EQ(split_lines(r.out), (std::vector<std::string>{
                                      line_clipboard(extra, 1),
                                      line_passthrough(main, 1),
                                      line_toggle(main, 2),
                                      line_sudo(main, 4, "run-shell", "sudo"),
                                  }))
        << r.both();

    const std::string clean = at("clean.conf");
    ASSERT_NO_FATAL_FAILURE(
        file_put(clean, "set -g allow-passthrough off\nbind r display 'sudo?'\n"));
    r = cli_run({"lint", clean});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.out + r.err, "") << r.both();
}

// A sourced file that another account can change is a high finding on the
// source-file line: by an ACL entry, by ownership, by a group-writable
// directory above it; a file only root can change is none. The sourced
// files are linted too.
TEST_F(LintE2E, SourcedFileWritableByAnotherAccountIsHigh)
{
    const Account& other = user("other");
    const std::string team = World::get().team_group();
    const std::string acl = at("acl.conf");
    const std::string owned = at("owned.conf");
    const std::string fine = at("fine.conf");
    const std::string grouped = at("team/grouped.conf");
    ASSERT_NO_FATAL_FAILURE(file_put(acl, "run-shell 'doas true'\n"));
    RunResult s = proc_run({"setfacl", "-m", "u:" + other.name + ":rw", acl});
    ASSERT_EQ(s.status, 0) << s.both();
    ASSERT_NO_FATAL_FAILURE(file_put(owned, "set -g mouse on\n", other.uid, other.gid));
    ASSERT_NO_FATAL_FAILURE(file_put(fine, "set -g mouse on\n"));
    ASSERT_NO_FATAL_FAILURE(dir_put(at("team"), 0, group_gid(team), 0775));
    ASSERT_NO_FATAL_FAILURE(file_put(grouped, "set -g mouse on\n"));
    const std::string main = at("main.conf");
    ASSERT_NO_FATAL_FAILURE(file_put(main, "source-file " + acl + "\nsource-file " + owned +
                                               "\nsource-file " + fine + "\nsource-file -q " +
                                               at("team/*.conf") + "\n"));
    RunResult r = cli_run({"lint", main});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    EXPECT_EQ(split_lines(r.out),
              (std::vector<std::string>{
                  line_sudo(acl, 1, "run-shell", "doas"),
                  line_source_writable(main, 1, acl,
                                       acl + " is writable by user " + other.name + " (ACL)"),
                  line_source_writable(main, 2, owned, owned + " is owned by " + other.name),
                  line_source_writable(main, 4, at("team/*.conf"),
                                       at("team") + " is writable by group " + team + " (" +
                                           user("member").name + ")"),
              }))
        << r.both();
}

// A symlink that another account owns is reported as such and not
// followed (what it points to is not read); a root-owned one is followed.
TEST_F(LintE2E, SymlinkOwnedByAnotherAccountIsReportedAndNotFollowed)
{
    const Account& other = user("other");
    ASSERT_NO_FATAL_FAILURE(file_put(at("target.conf"), "run-shell 'sudo -n true'\n"));
    ASSERT_NO_FATAL_FAILURE(file_put(at("target2.conf"), "run-shell 'pkexec true'\n"));
    ASSERT_EQ(symlink(at("target.conf").c_str(), at("theirs.conf").c_str()), 0)
        << std::strerror(errno);
    ASSERT_EQ(lchown(at("theirs.conf").c_str(), other.uid, other.gid), 0) << std::strerror(errno);
    ASSERT_EQ(symlink("target2.conf", at("ours.conf").c_str()), 0) << std::strerror(errno);
    const std::string main = at("main.conf");
    ASSERT_NO_FATAL_FAILURE(file_put(main, "source-file " + at("theirs.conf") + "\nsource-file " +
                                               at("ours.conf") + "\n"));
    RunResult r = cli_run({"lint", main});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    EXPECT_EQ(split_lines(r.out),
              (std::vector<std::string>{
                  line_source_writable(main, 1, at("theirs.conf"),
                                       at("theirs.conf") + " is a symlink owned by " + other.name +
                                           " (not followed)"),
                  line_sudo(at("ours.conf"), 1, "run-shell", "pkexec"),
              }))
        << r.both();
}

// A missing named file is an error (exit 3 at the end) and the other files
// are still linted; a FIFO is never opened (no hang), a file the caller
// cannot read is an error too.
TEST_F(LintE2E, MissingOrUnreadableNamedFileIsExit3AndTheOthersAreLinted)
{
    const std::string main = at("main.conf");
    ASSERT_NO_FATAL_FAILURE(file_put(main, "set -g allow-passthrough on\n"));
    RunResult r = cli_run({"lint", at("missing.conf"), main});
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: lint: " + at("missing.conf") + ": no such file\n") << r.both();
    EXPECT_EQ(split_lines(r.out), std::vector<std::string>{line_passthrough(main, 1)}) << r.both();

    ASSERT_EQ(mkfifo(at("fifo.conf").c_str(), 0644), 0) << std::strerror(errno);
    r = cli_run({"lint", at("fifo.conf")});
    EXPECT_FALSE(r.timed_out) << "lint opened the FIFO and waited";
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: lint: " + at("fifo.conf") + ": not a regular file\n") << r.both();

    ASSERT_NO_FATAL_FAILURE(file_put(at("secret.conf"), "set -g mouse on\n", 0, 0, 0600));
    r = proc_run_as(user("member").name, {path_cli(), "lint", at("secret.conf"), main});
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: lint: " + at("secret.conf") + ": cannot read: Permission denied\n")
        << r.both();
    EXPECT_EQ(split_lines(r.out), std::vector<std::string>{line_passthrough(main, 1)}) << r.both();
}

// Without FILE, lint reads what tmux would read for the caller: its
// ~/.tmux.conf and ~/.config/tmux/tmux.conf, and what they source with ~.
// A file writable by the caller's own private group is no finding (nobody
// else is in it). Run as a real test account.
TEST_F(LintE2E, DefaultFilesOfTheCallingAccountAreLinted)
{
    const Account& m = user("member");
    const std::string conf = m.home + "/.tmux.conf";
    const std::string local = m.home + "/.tmux/local.conf";
    const std::string xdg = m.home + "/.config/tmux/tmux.conf";
    home_path_track(conf);
    home_path_track(m.home + "/.tmux");
    home_path_track(m.home + "/.config");
    ASSERT_NO_FATAL_FAILURE(file_put(
        conf, "set -g allow-passthrough on\nsource-file ~/.tmux/local.conf\n", m.uid, m.gid, 0664));
    ASSERT_NO_FATAL_FAILURE(dir_put(m.home + "/.tmux", m.uid, m.gid, 0755));
    ASSERT_NO_FATAL_FAILURE(file_put(local, "bind -n M-w switch-client -r\n", m.uid, m.gid));
    ASSERT_NO_FATAL_FAILURE(dir_put(m.home + "/.config/tmux", m.uid, m.gid, 0755));
    ASSERT_EQ(chown((m.home + "/.config").c_str(), m.uid, m.gid), 0) << std::strerror(errno);
    ASSERT_NO_FATAL_FAILURE(file_put(xdg, "set -s set-clipboard on\n", m.uid, m.gid));

    RunResult r = proc_run_as(m.name, {path_cli(), "lint"});
    std::vector<std::string> mine;
    for (const std::string& l : split_lines(r.out)) {
        if (!l.starts_with("/etc/tmux.conf:"))  // the machine's own, if it has one
            mine.push_back(l);
    }
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(mine, (std::vector<std::string>{line_clipboard(xdg, 1), line_passthrough(conf, 1),
                                              line_toggle(local, 1)}))
        << r.both();

    // The same mode with a group that holds another account is a finding.
    const Account& other = user("other");
    const struct group* og = getgrgid(other.gid);
    ASSERT_NE(og, nullptr);
    const std::string other_group = og->gr_name;
    ASSERT_EQ(chown(conf.c_str(), m.uid, other.gid), 0) << std::strerror(errno);
    r = proc_run_as(m.name, {path_cli(), "lint"});
    mine.clear();
    for (const std::string& l : split_lines(r.out)) {
        if (!l.starts_with("/etc/tmux.conf:"))
            mine.push_back(l);
    }
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(mine, (std::vector<std::string>{
                        line_clipboard(xdg, 1),
                        conf + ":0: high: this file can be changed by others: " + conf +
                            " is writable by group " + other_group + " (" + other.name + ")" +
                            kFixWritable,
                        line_passthrough(conf, 1), line_toggle(local, 1)}))
        << r.both();
}

// --json: exactly one object on one line, {"files","findings","errors"},
// nothing on stderr, exit 3 when a file is missing.
TEST_F(LintE2E, JsonIsOneObjectWithFilesFindingsAndErrors)
{
    const std::string main = at("main.conf");
    ASSERT_NO_FATAL_FAILURE(
        file_put(main, "set -g update-environment \"DISPLAY SSH_AUTH_SOCK\"\n"));
    RunResult r = cli_run({"lint", "--json", main, at("gone.conf")});
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_EQ(r.err, "") << r.both();
    EXPECT_EQ(r.out,
              "{\"files\":[\"" + main + "\"],\"findings\":[{\"file\":\"" + main +
                  "\",\"line\":1,\"severity\":\"high\",\"code\":\"update-environment-secret\","
                  "\"message\":\"update-environment copies DISPLAY, SSH_AUTH_SOCK from every "
                  "attaching client into the session\",\"fix\":\"leave credentials out of "
                  "update-environment (tmuxguard serve sets it to \\\"\\\")\"}],\"errors\":[\"" +
                  at("gone.conf") + ": no such file\"]}\n")
        << r.both();

    r = cli_run({"lint", "--json", at("clean")});  // missing only
    EXPECT_EQ(r.out, "{\"files\":[],\"findings\":[],\"errors\":[\"" + at("clean") +
                         ": no such file\"]}\n")
        << r.both();
}

// A -S socket in a directory every user can write is medium; one in a
// private directory is none.
TEST_F(LintE2E, SocketInAWorldWritableDirectoryIsMedium)
{
    const std::string tmp_socket = "/tmp/" + World::get().unique_name("pair");
    ASSERT_NO_FATAL_FAILURE(dir_put(at("private"), 0, 0, 0700));
    const std::string main = at("main.conf");
    ASSERT_NO_FATAL_FAILURE(file_put(main, "run-shell \"tmux -S " + tmp_socket + " new -d\"\n"
                                           "set -g @socket \"-S " + at("private/sock") + "\"\n"));
    RunResult r = cli_run({"lint", main});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(split_lines(r.out),
              std::vector<std::string>{
                  main + ":1: medium: -S socket " + tmp_socket +
                  " is in a directory others can change: /tmp is writable by everyone (fix: keep "
                  "tmux sockets in a private directory (0700, yours), e.g. $TMUX_TMPDIR)"})
        << r.both();
}

// Control bytes from a config are printed escaped; a top-level file that
// others can change is a finding at line 0; an unknown option is exit 2.
TEST_F(LintE2E, OutputIsEscapedAndWritableConfigIsLine0)
{
    const std::string main = at("main.conf");
    ASSERT_NO_FATAL_FAILURE(file_put(main, "source-file \"\\033]0;x\\007.conf\"\n", 0,
                                     group_gid(World::get().team_group()), 0664));
    RunResult r = cli_run({"lint", main});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(split_lines(r.out),
              (std::vector<std::string>{
                  main + ":0: high: this file can be changed by others: " + main +
                      " is writable by group " + World::get().team_group() + " (" +
                      user("member").name + ")" + kFixWritable,
                  main + ":1: medium: source-file \\x1b]0;x\\x07.conf is relative: tmux reads it "
                         "from whatever directory it was started in (fix: use an absolute path "
                         "or ~/...)",
              }))
        << r.both();
    EXPECT_EQ(r.out.find('\033'), std::string::npos);

    r = cli_run({"lint", "--bogus"});
    EXPECT_EQ(r.status, 2) << r.both();
    EXPECT_EQ(r.err, "tmuxguard: lint: unknown option '--bogus'\n") << r.both();
}

// source-file is followed 10 files deep and no further (an error, exit 3,
// and nothing from the file beyond is reported); a missing sourced file in
// a directory that every user can write is high (anyone can create it).
TEST_F(LintE2E, SourceChainIsBoundedAndAMissingFileInTmpIsHigh)
{
    auto f = [this](int i) { return at("f" + std::to_string(i) + ".conf"); };
    for (int i = 0; i <= 11; ++i) {
        const std::string body =
            i < 11 ? "source-file " + f(i + 1) + "\n" : std::string("run-shell 'sudo -n true'\n");
        ASSERT_NO_FATAL_FAILURE(file_put(f(i), body));
    }
    RunResult r = cli_run({"lint", "--json", at("f0.conf")});
    EXPECT_EQ(r.status, 3) << r.both();
    std::string files;
    for (int i = 0; i <= 10; ++i)
        files += std::string(i == 0 ? "" : ",") + "\"" + f(i) + "\"";
    EXPECT_EQ(r.out, "{\"files\":[" + files + "],\"findings\":[],\"errors\":[\"" + f(11) +
                         ": source-file nested deeper than 10 levels, not linted\"]}\n")
        << r.both();

    const std::string missing = "/tmp/" + World::get().unique_name("missing") + ".conf";
    const std::string main = at("main.conf");
    ASSERT_NO_FATAL_FAILURE(file_put(main, "source-file -q " + missing + "\n"));
    r = cli_run({"lint", main});
    EXPECT_EQ(r.status, 1) << r.both();
    EXPECT_EQ(split_lines(r.out),
              std::vector<std::string>{line_source_writable(
                  main, 1, missing, missing + " is missing and /tmp lets others create it")})
        << r.both();
}

}  // namespace tge2e
