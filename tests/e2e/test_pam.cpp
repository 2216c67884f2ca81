// pam_tmuxguard.so end to end: the real libpam (pam_start_confdir() and
// service files the test writes, pam_support.hpp), real accounts, real tmux
// servers, and the module's syslog lines caught on a private /dev/log. Each
// test asserts what an admin or a user would notice: the code of every
// entry point, the directory on disk (type, owner, mode, getfacl), the
// TMUX_TMPDIR a login gets, and the exact log lines.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "harness.hpp"
#include "pam_support.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

using Lines = std::vector<ModuleLine>;

// ---------------------------------------------------------------- on disk

// What `ls -l`, `getfacl` and `readlink` would show of one path.
struct Node {
    std::string kind = "missing";  // dir, link, fifo, file, other, missing
    mode_t mode = 0;               // permission bits
    uid_t uid = 0;
    gid_t gid = 0;
    ino_t ino = 0;
    std::string ctime;    // "sec.nsec": any chmod, chown or setfacl moves it
    std::string acl;      // getfacl entries (default entries too)
    std::string target;   // a symlink's
    std::string entries;  // a directory's names, sorted
    bool operator==(const Node&) const = default;
};

void PrintTo(const Node& n, std::ostream* os)
{
    *os << n.kind << " " << std::oct << n.mode << std::dec << " " << n.uid << ":" << n.gid
        << " ino " << n.ino << " ctime " << n.ctime << " target '" << n.target << "' entries [" << n.entries << "] acl:\n"
        << n.acl;
}

// The names in a directory, sorted, blank-separated ("" if unreadable).
std::string dir_names(const std::string& path)
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(path, ec))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& n : names)
        out += n + " ";
    return out;
}

// The path itself (lstat: a symlink is not followed).
Node node_of(const std::string& path)
{
    Node n;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        return n;
    n.mode = st.st_mode & 07777;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    n.ino = st.st_ino;
    n.ctime = std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
    if (S_ISLNK(st.st_mode)) {
        n.kind = "link";
        n.target = fs::read_symlink(path).string();
        return n;
    }
    n.kind = S_ISDIR(st.st_mode)    ? "dir"
             : S_ISFIFO(st.st_mode) ? "fifo"
             : S_ISREG(st.st_mode)  ? "file"
                                    : "other";
    n.acl = acl_entries(path);
    if (n.kind == "dir")
        n.entries = dir_names(path);
    return n;
}

std::vector<Node> nodes_of(const std::vector<std::string>& paths)
{
    std::vector<Node> out;
    for (const auto& p : paths)
        out.push_back(node_of(p));
    return out;
}

// The only ACL a RUNTIME/UID may carry (ls: drwx--x---+).
std::string acl_private()
{
    return "user::rwx\ngroup::---\ngroup:" + World::get().gate_group() +
           ":--x\nmask::--x\nother::---\n";
}

// RUNTIME/UID: the account's directory, 0700 plus the gate's --x, nothing else.
void expect_private_dir(const std::string& path, const Account& a)
{
    Node n = node_of(path);
    EXPECT_EQ(n.kind, "dir") << path;
    EXPECT_EQ(n.mode, 0710u) << path << ": mode " << std::oct << n.mode;
    EXPECT_EQ(n.uid, a.uid) << path;
    EXPECT_EQ(n.gid, a.gid) << path;
    EXPECT_EQ(n.acl, acl_private()) << path;
}

// RUNTIME and the parents the module made: root:root 0755, no ACL.
void expect_root_dir(const std::string& path)
{
    Node n = node_of(path);
    EXPECT_EQ(n.kind, "dir") << path;
    EXPECT_EQ(n.mode, 0755u) << path << ": mode " << std::oct << n.mode;
    EXPECT_EQ(n.uid, 0u) << path;
    EXPECT_EQ(n.gid, 0u) << path;
    EXPECT_EQ(n.acl, "user::rwx\ngroup::r-x\nother::r-x\n") << path;
}

// Records a failed set-up step (plants return values, so no ASSERT there).
void must(bool ok, const std::string& what)
{
    if (!ok)
        ADD_FAILURE() << what << ": " << std::strerror(errno);
}

// A directory as root:root 0755 (made if missing).
void dir_root(const std::string& path)
{
    must(::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST, "mkdir " + path);
    must(::chown(path.c_str(), 0, 0) == 0 && ::chmod(path.c_str(), 0755) == 0, path);
}

// A new directory with this owner and mode.
void dir_owned(const std::string& path, uid_t uid, gid_t gid, mode_t mode)
{
    must(::mkdir(path.c_str(), 0700) == 0, "mkdir " + path);
    must(::chown(path.c_str(), uid, gid) == 0 && ::chmod(path.c_str(), mode) == 0, path);
}

// setfacl ARGS as root.
void setfacl(const std::vector<std::string>& args)
{
    std::vector<std::string> argv = {"setfacl"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = proc_run(argv);
    EXPECT_EQ(r.status, 0) << r.both();
}

// "user NAME (uid N)", as the module names an account with a plain name.
std::string who(const Account& a)
{
    return "user " + a.name + " (uid " + std::to_string(a.uid) + ")";
}

// For lines whose order is the scheduler's (concurrent logins, readdir).
Lines sorted(Lines lines)
{
    std::sort(lines.begin(), lines.end(),
              [](const ModuleLine& x, const ModuleLine& y) { return x.text < y.text; });
    return lines;
}

// The lines `module` logged for service `svc`.
Lines logged(const Captured& c, const std::string& svc,
             const std::string& module = "pam_tmuxguard")
{
    Lines out;
    for (const ModuleLine& l : c.module_lines(svc, module))
        out.push_back(l);
    return out;
}

// ---------------------------------------------------------------- hostile objects

// What a plant left: the refusal it must cause ("REASON: PATH: DETAIL") and
// the paths whose state the module must not change.
struct Planted {
    std::string why;
    std::vector<std::string> watched;
};

struct Hostile {
    const char* name;
    Planted (*plant)(const PamTree& t, const Account& a);
};

// RUNTIME (and run/ above it) as the module would make them.
void runtime_make(const PamTree& t)
{
    dir_root(t.root() + "/run");
    dir_root(t.runtime());
}

// A root-owned directory that looks like /etc: what a followed symlink
// would hand to the user.
std::string victim_make(const PamTree& t)
{
    const std::string victim = t.root() + "/victim";
    dir_root(victim);
    std::ofstream(victim + "/passwd") << "root:x:0:0::/root:/bin/sh\n";
    return victim;
}

Planted plant_symlink(const PamTree& t, const Account& a)
{
    runtime_make(t);
    const std::string victim = victim_make(t);
    const std::string dir = t.user_dir(a.uid);
    must(::symlink(victim.c_str(), dir.c_str()) == 0, "symlink " + dir);
    return {"path-symlink: " + dir + ": is a symbolic link; left alone", {dir, victim}};
}

Planted plant_fifo(const PamTree& t, const Account& a)
{
    runtime_make(t);
    const std::string dir = t.user_dir(a.uid);
    must(::mkfifo(dir.c_str(), 0600) == 0 && ::chown(dir.c_str(), a.uid, a.gid) == 0,
         "mkfifo " + dir);
    return {"path-unsafe-dir: " + dir + ": not a directory; left alone", {dir}};
}

Planted plant_file(const PamTree& t, const Account& a)
{
    runtime_make(t);
    const std::string dir = t.user_dir(a.uid);
    std::ofstream(dir) << "not a directory\n";
    must(::chown(dir.c_str(), a.uid, a.gid) == 0, "chown " + dir);
    return {"path-unsafe-dir: " + dir + ": not a directory; left alone", {dir}};
}

Planted plant_other_users_dir(const PamTree& t, const Account& a)
{
    runtime_make(t);
    const Account& o = World::get().user("other");
    const std::string dir = t.user_dir(a.uid);
    dir_owned(dir, o.uid, o.gid, 0700);
    return {"path-unsafe-dir: " + dir + ": owned by uid " + std::to_string(o.uid) +
                ", not by uid " + std::to_string(a.uid) + "; left alone",
            {dir}};
}

// The right directory plus someone's grant `entry` (setfacl -m syntax).
Planted plant_extra_entry(const PamTree& t, const Account& a, const std::string& entry,
                          const std::string& shown)
{
    runtime_make(t);
    const std::string dir = t.user_dir(a.uid);
    dir_owned(dir, a.uid, a.gid, 0700);
    setfacl({"-m", "g:" + std::to_string(World::get().gate_gid()) + ":--x," + entry, dir});
    return {"acl-overgrant: " + dir + ": " + shown + " is an extra ACL entry; left alone", {dir}};
}

Planted plant_extra_user_entry(const PamTree& t, const Account& a)
{
    const std::string other = std::to_string(World::get().user("other").uid);
    return plant_extra_entry(t, a, "u:" + other + ":rwx", "user:" + other + ":rwx");
}

Planted plant_extra_group_entry(const PamTree& t, const Account& a)
{
    const struct group* team = ::getgrnam(World::get().team_group().c_str());
    const std::string gid = team != nullptr ? std::to_string(team->gr_gid) : "?";
    return plant_extra_entry(t, a, "g:" + gid + ":r-x", "group:" + gid + ":r-x");
}

Planted plant_default_acl(const PamTree& t, const Account& a)
{
    runtime_make(t);
    const std::string dir = t.user_dir(a.uid);
    dir_owned(dir, a.uid, a.gid, 0700);
    setfacl({"-m", "g:" + std::to_string(World::get().gate_gid()) + ":--x", dir});
    setfacl({"-d", "-m", "u::rwx,g::---,o::---", dir});
    return {"acl-overgrant: " + dir + ": has a default ACL; left alone", {dir}};
}

Planted plant_runtime_group_writable(const PamTree& t, const Account&)
{
    runtime_make(t);
    must(::chmod(t.runtime().c_str(), 0775) == 0, "chmod " + t.runtime());
    return {"path-unsafe-dir: " + t.runtime() +
                ": not owned by root or writable by group or other",
            {t.runtime()}};
}

Planted plant_runtime_user_owned(const PamTree& t, const Account& a)
{
    runtime_make(t);
    must(::chown(t.runtime().c_str(), a.uid, a.gid) == 0, "chown " + t.runtime());
    return {"path-unsafe-dir: " + t.runtime() +
                ": not owned by root or writable by group or other",
            {t.runtime()}};
}

// A symlink even to a trusted root directory: the walk follows none.
Planted plant_runtime_symlink(const PamTree& t, const Account&)
{
    dir_root(t.root() + "/run");
    const std::string victim = victim_make(t);
    must(::symlink(victim.c_str(), t.runtime().c_str()) == 0, "symlink " + t.runtime());
    return {"path-symlink: " + t.runtime() + ": is a symbolic link", {t.runtime(), victim}};
}

const Hostile kHostile[] = {
    {"SymlinkToRootOwnedVictim", plant_symlink},
    {"Fifo", plant_fifo},
    {"RegularFile", plant_file},
    {"DirectoryOfAnotherUser", plant_other_users_dir},
    {"ExtraUserAclEntry", plant_extra_user_entry},
    {"ExtraGroupAclEntry", plant_extra_group_entry},
    {"DefaultAcl", plant_default_acl},
    {"RuntimeGroupWritable", plant_runtime_group_writable},
    {"RuntimeOwnedByUser", plant_runtime_user_owned},
    {"RuntimeSymlink", plant_runtime_symlink},
};

// ---------------------------------------------------------------- repairable objects

struct Repairable {
    const char* name;
    void (*plant)(const std::string& dir, const Account& a);
    // What "repaired ... was A, B" must list, and what else it may list
    // (a dir without the gate entry is also wrong in its ACL, say).
    std::set<std::string> was;
    std::set<std::string> may_also;
};

void plant_mode(const std::string& dir, const Account& a, mode_t mode)
{
    dir_owned(dir, a.uid, a.gid, mode);
}

const Repairable kRepairable[] = {
    {"Mode0777", [](const std::string& d, const Account& a) { plant_mode(d, a, 0777); },
     {"mode 0777"}, {"acl"}},
    {"Mode0755", [](const std::string& d, const Account& a) { plant_mode(d, a, 0755); },
     {"mode 0755"}, {"acl"}},
    // Right bits, no gate entry: the gate could not reach the sockets.
    {"GateEntryMissing", [](const std::string& d, const Account& a) { plant_mode(d, a, 0710); },
     {"acl"}, {}},
    // The gate with rwx could create and remove sockets in the directory.
    {"GateEntryRwx",
     [](const std::string& d, const Account& a) {
         plant_mode(d, a, 0700);
         setfacl({"-m", "g:" + std::to_string(World::get().gate_gid()) + ":rwx", d});
     },
     {"mode 0770"}, {"acl"}},
    // What an interrupted login leaves (mkdir done, chown not yet).
    {"RootOwned", [](const std::string& d, const Account&) { dir_owned(d, 0, 0, 0700); },
     {"owner 0:0"}, {"acl", "mode 0700"}},
};

// "A, B" of "repaired ... was A, B".
std::set<std::string> was_items(const std::string& list)
{
    std::set<std::string> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        std::size_t comma = list.find(", ", start);
        if (comma == std::string::npos)
            comma = list.size();
        out.insert(list.substr(start, comma - start));
        start = comma + 2;
    }
    return out;
}

// ---------------------------------------------------------------- fixture

class Pam : public E2E {
protected:
    void SetUp() override
    {
        E2E::SetUp();
        if (HasFatalFailure())
            return;
        ASSERT_EQ(::geteuid(), 0u) << "the PAM tests need root: a mount namespace, accounts";
        tree_ = std::make_unique<PamTree>();
        ASSERT_FALSE(tree_->root().empty());
    }

    void TearDown() override
    {
        E2E::TearDown();  // the tmux servers first: their sockets are in the tree
        tree_.reset();
    }

    [[nodiscard]] const PamTree& tree() const { return *tree_; }
    [[nodiscard]] std::string confdir() const { return tree_->confdir(); }

    // Service NAME: the module with the tree's runtime_dir= and then `args`.
    void service(const std::string& name, const std::string& args = {}) const
    {
        tree_->service_write(name, tree_->runtime_arg() + (args.empty() ? "" : " " + args));
    }

    // One login and logout of `a` through `svc`, captured.
    [[nodiscard]] Captured login(const std::string& svc, const Account& a) const
    {
        return syslog_capture([&](Report& r) { pam_login(r, confdir(), svc, a.name); });
    }

    // A plain `tmux new-session -d` of `a` with TMUX_TMPDIR (a server named
    // `label` with -L, else "default"); returns the server's pid.
    pid_t user_tmux_start(const Account& a, const std::string& tmpdir,
                          const std::string& label = "default")
    {
        const std::vector<std::string> env = {"TMUX_TMPDIR=" + tmpdir};
        RunResult r = proc_run_as(a.name,
                                  {"tmux", "-f", "/dev/null", "-L", label, "new-session", "-d",
                                   "-s", "main"},
                                  env);
        EXPECT_EQ(r.status, 0) << "tmux new-session as " << a.name << "\n" << r.both();
        RunResult p = proc_run_as(a.name, {"tmux", "-L", label, "display-message", "-p", "#{pid}"},
                                  env);
        EXPECT_EQ(p.status, 0) << p.both();
        pid_t pid = p.status == 0 ? static_cast<pid_t>(std::stol(p.out)) : -1;
        helpers_.push_back(pid);
        return pid;
    }

    // The pids of the clients attached to `a`'s server `label`.
    std::string user_tmux_clients(const Account& a, const std::string& tmpdir,
                                  const std::string& label)
    {
        return proc_run_as(a.name, {"tmux", "-L", label, "list-clients", "-F", "#{client_pid}"},
                           {"TMUX_TMPDIR=" + tmpdir})
            .out;
    }

    // Expects `c` to be the refusal `why` of `a`'s login: the open's code,
    // no TMUX_TMPDIR, the close (no reaping) PAM_SUCCESS, one LOG_ERR line.
    void expect_refused(const Captured& c, const std::string& svc, const Account& a,
                        const std::string& why, const std::string& code)
    {
        ASSERT_EQ(c.status, 0) << c.dump();
        EXPECT_EQ(c.get("open"), code) << c.dump();
        EXPECT_EQ(c.get("env"), "<unset>");
        EXPECT_EQ(c.get("close"), "PAM_SUCCESS");
        EXPECT_EQ(logged(c, svc),
                  (Lines{{LOG_ERR, "refused: " + who(a) + ": " + why + "; TMUX_TMPDIR not set"}}))
            << c.dump();
    }

    std::unique_ptr<PamTree> tree_;
};

void PrintTo(const Hostile& h, std::ostream* os)
{
    *os << h.name;
}

void PrintTo(const Repairable& r, std::ostream* os)
{
    *os << r.name;
}

// A parameterized case's name in the test's name.
template <class Case>
std::string case_name(const ::testing::TestParamInfo<Case>& p)
{
    return p.param.name;
}

class PamHostile : public Pam, public ::testing::WithParamInterface<Hostile> {};
class PamRepairable : public Pam, public ::testing::WithParamInterface<Repairable> {};

}  // namespace

// ---------------------------------------------------------------- 1. fresh login

// The first login makes RUNTIME (root 0755 even under umask 077, as login
// may run) and RUNTIME/UID (the user's, 0700 + group:GATE:--x), exports
// TMUX_TMPDIR and logs "created".
TEST_F(Pam, FreshLoginCreatesPrivateGatedDirectory)
{
    const Account& u = user("owner");
    service("fresh");
    Captured c = syslog_capture([&](Report& r) {
        ::umask(077);
        pam_login(r, confdir(), "fresh", u.name);
        r["umask"] = std::to_string(::umask(077));
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    const std::string dir = tree().user_dir(u.uid);
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("env"), dir);
    EXPECT_EQ(c.get("close"), "PAM_SUCCESS");
    EXPECT_EQ(c.get("umask"), std::to_string(077)) << "the module changed the host's umask";
    expect_root_dir(tree().root() + "/run");
    expect_root_dir(tree().runtime());
    expect_private_dir(dir, u);
    EXPECT_EQ(logged(c, "fresh"), (Lines{{LOG_NOTICE, "created " + dir + " for " + who(u)}}))
        << c.dump();
    for (const SyslogLine& l : c.lines)
        EXPECT_EQ(l.facility, LOG_AUTHPRIV >> 3) << l.raw;
}

// ---------------------------------------------------------------- 2. second login

// A second login changes nothing (same inode, owner, mode, ACL, and not
// even rewritten: same ctime, so the gate's --x never blinks out while a
// guest attaches), succeeds, and says "kept" only with debug; without
// debug it says nothing.
TEST_F(Pam, SecondLoginKeepsTheDirectory)
{
    const Account& u = user("owner");
    service("again");
    service("again-debug", "debug");
    const std::string dir = tree().user_dir(u.uid);
    Captured first = login("again", u);
    ASSERT_EQ(first.get("open"), "PAM_SUCCESS") << first.dump();
    const Node before = node_of(dir);
    ASSERT_EQ(before.kind, "dir");

    Captured c = syslog_capture([&](Report& r) {
        pam_login(r, confdir(), "again-debug", u.name, "debug.");
        pam_login(r, confdir(), "again", u.name, "quiet.");
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    for (const char* p : {"debug.", "quiet."}) {
        EXPECT_EQ(c.get(p + std::string("open")), "PAM_SUCCESS") << c.dump();
        EXPECT_EQ(c.get(p + std::string("env")), dir);
        EXPECT_EQ(c.get(p + std::string("close")), "PAM_SUCCESS");
    }
    EXPECT_EQ(node_of(dir), before);
    expect_private_dir(dir, u);
    EXPECT_EQ(logged(c, "again-debug"),
              (Lines{{LOG_DEBUG, "kept " + dir + " for " + who(u) + ": already right"}}))
        << c.dump();
    EXPECT_EQ(logged(c, "again"), Lines{}) << c.dump();
}

// ---------------------------------------------------------------- 3./4. hostile objects

// Something hostile at RUNTIME/UID or RUNTIME: refused with its reason,
// PAM_SESSION_ERR, no TMUX_TMPDIR, and nothing of it touched (a symlink's
// root-owned target is not chowned to the user, a FIFO is not opened, an
// extra ACL entry stays for the admin to see).
TEST_P(PamHostile, RefusedAndLeftAloneUnderFailDeny)
{
    const Account& u = user("owner");
    service("deny");
    const Planted p = GetParam().plant(tree(), u);
    const std::vector<Node> before = nodes_of(p.watched);
    Captured c = login("deny", u);
    expect_refused(c, "deny", u, p.why, "PAM_SESSION_ERR");
    EXPECT_EQ(nodes_of(p.watched), before);
}

// fail=ignore: the same refusal, logged the same, returns PAM_IGNORE (the
// stack goes on: the probe's pam_exec ran and the login succeeded).
TEST_P(PamHostile, IgnoredAndLeftAloneUnderFailIgnore)
{
    const Account& u = user("owner");
    service("ignore", "fail=ignore");
    const Planted p = GetParam().plant(tree(), u);
    const std::vector<Node> before = nodes_of(p.watched);
    Captured c = login("ignore", u);
    expect_refused(c, "ignore", u, p.why, "PAM_IGNORE");
    EXPECT_EQ(nodes_of(p.watched), before);
}

INSTANTIATE_TEST_SUITE_P(Pam, PamHostile, ::testing::ValuesIn(kHostile), case_name<Hostile>);

// A directory of the user (or root's, left by an interrupted login) with
// the wrong mode or ACL is repaired in place: same inode, then exactly
// right, "repaired ... was WHAT" at LOG_WARNING, and the login goes on.
TEST_P(PamRepairable, RepairedInPlace)
{
    const Account& u = user("owner");
    service("repair");
    runtime_make(tree());
    const std::string dir = tree().user_dir(u.uid);
    GetParam().plant(dir, u);
    const ino_t ino = node_of(dir).ino;
    Captured c = login("repair", u);
    ASSERT_EQ(c.status, 0) << c.dump();
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("env"), dir);
    EXPECT_EQ(c.get("close"), "PAM_SUCCESS");
    EXPECT_EQ(node_of(dir).ino, ino);
    expect_private_dir(dir, u);
    const Lines lines = logged(c, "repair");
    ASSERT_EQ(lines.size(), 1u) << c.dump();
    EXPECT_EQ(lines[0].severity, LOG_WARNING) << c.dump();
    const std::string head = "repaired " + dir + " for " + who(u) + ": was ";
    ASSERT_TRUE(lines[0].text.starts_with(head)) << c.dump();
    const std::set<std::string> was = was_items(lines[0].text.substr(head.size()));
    for (const auto& item : GetParam().was)
        EXPECT_EQ(was.count(item), 1u) << "the log does not say it was " << item << "\n"
                                       << c.dump();
    for (const auto& item : was)
        EXPECT_TRUE(GetParam().was.count(item) + GetParam().may_also.count(item) == 1)
            << "the log says it was " << item << "\n" << c.dump();
}

INSTANTIATE_TEST_SUITE_P(Pam, PamRepairable, ::testing::ValuesIn(kRepairable),
                         case_name<Repairable>);

// ---------------------------------------------------------------- 5. unusual user name

// A name with UTF-8 bytes, '.', '-', '_' and '$' (useradd --badname) gets
// its directory like any other; the log line shows the name escaped, and no
// byte of any line is a control byte or above 0x7e.
TEST_F(Pam, UnusualUserNameWorksAndIsEscapedInTheLog)
{
    const Account& odd = World::get().odd_user();
    ASSERT_NE(odd.uid, 0u);
    service("odd");
    Captured c = login("odd", odd);
    ASSERT_EQ(c.status, 0) << c.dump();
    const std::string dir = tree().user_dir(odd.uid);
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("env"), dir);
    EXPECT_EQ(c.get("close"), "PAM_SUCCESS");
    expect_private_dir(dir, odd);
    const std::string shown = World::get().tag() + "-\\xc3\\xa9.x-y_z$";
    EXPECT_EQ(logged(c, "odd"),
              (Lines{{LOG_NOTICE, "created " + dir + " for user " + shown + " (uid " +
                                      std::to_string(odd.uid) + ")"}}))
        << c.dump();
    for (const SyslogLine& l : c.lines) {
        for (char ch : l.raw) {
            auto b = static_cast<unsigned char>(ch);
            EXPECT_TRUE(b >= 0x20 && b < 0x7f) << "byte " << int(b) << " in " << l.raw;
        }
    }
}

// ---------------------------------------------------------------- 6. concurrent logins

namespace {

// Reads from `fd` until `n` lines arrived or EOF.
std::string lines_read(int fd, int n)
{
    std::string out;
    char buf[4096];
    while (std::count(out.begin(), out.end(), '\n') < n) {
        ssize_t k = ::read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        out.append(buf, static_cast<std::size_t>(k));
    }
    return out;
}

// Blocks until every write end of the gate pipe is closed.
void gate_wait(int fd)
{
    char c;
    while (::read(fd, &c, 1) < 0 && errno == EINTR) {
    }
}

// Writes one short line (< PIPE_BUF: one atomic write among many writers).
void line_write(int fd, const std::string& line)
{
    const std::string text = line + "\n";
    ssize_t ignored = ::write(fd, text.data(), text.size());
    (void)ignored;
}

std::vector<std::string> lines_sorted(const std::string& text)
{
    std::vector<std::string> lines = split_lines(text);
    std::sort(lines.begin(), lines.end());
    return lines;
}

struct Crowd {
    std::vector<std::string> opens;   // "CODE TMUX_TMPDIR" per login, sorted
    std::vector<std::string> closes;  // "CODE" per logout, sorted
};

// `n` logins of `user` in `n` processes: all open at one moment; once every
// one has opened (syslog mark "all open"), all close at one moment, each on
// its own handle, as n sshd sessions would.
Crowd crowd_login(int n, const std::string& confdir, const std::string& service,
                  const std::string& user)
{
    int go_open[2], go_close[2], opened[2], closed[2];
    for (int* p : {go_open, go_close, opened, closed}) {
        if (::pipe2(p, O_CLOEXEC) != 0)
            return {{"pipe2: " + std::string(std::strerror(errno))}, {}};
    }
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i) {
        pid_t pid = ::fork();
        if (pid == 0) {
            ::close(go_open[1]);
            ::close(go_close[1]);
            {
                PamHandle h(confdir, service, user.c_str());
                gate_wait(go_open[0]);
                const std::string rc = h.open();
                line_write(opened[1], rc + " " + h.env("TMUX_TMPDIR"));
                gate_wait(go_close[0]);
                line_write(closed[1], h.close());
            }
            ::_exit(0);
        }
        pids.push_back(pid);
    }
    for (int fd : {go_open[0], go_close[0], opened[1], closed[1]})
        ::close(fd);
    Crowd crowd;
    ::close(go_open[1]);  // go
    crowd.opens = lines_sorted(lines_read(opened[0], n));
    syslog_mark("all open");
    ::close(go_close[1]);  // go
    crowd.closes = lines_sorted(lines_read(closed[0], n));
    for (pid_t pid : pids) {
        int ws = 0;
        ::waitpid(pid, &ws, 0);
    }
    ::close(opened[0]);
    ::close(closed[0]);
    return crowd;
}

std::string join_lines(const std::vector<std::string>& lines)
{
    std::string s;
    for (const auto& l : lines)
        s += l + "\n";
    return s;
}

}  // namespace

// 16 logins of one user at the same moment, where neither RUNTIME nor
// RUNTIME/UID exists yet: all succeed with TMUX_TMPDIR and exactly one
// creates the directory; the session count sees every login (1..16 once
// each); then 16 simultaneous logouts count down 15..0, once each, and only
// the last one is the last session.
TEST_F(Pam, ConcurrentLoginsAllSucceed)
{
    constexpr int kLogins = 16;
    const Account& u = user("member");
    service("crowd", "debug reap_on_logout");
    const std::string dir = tree().user_dir(u.uid);
    Captured c = syslog_capture([&](Report& r) {
        Crowd crowd = crowd_login(kLogins, confdir(), "crowd", u.name);
        r["opens"] = join_lines(crowd.opens);
        r["closes"] = join_lines(crowd.closes);
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    std::string want_opens, want_closes;
    for (int i = 0; i < kLogins; ++i) {
        want_opens += "PAM_SUCCESS " + dir + "\n";
        want_closes += "PAM_SUCCESS\n";
    }
    EXPECT_EQ(c.get("opens"), want_opens);
    EXPECT_EQ(c.get("closes"), want_closes);
    expect_root_dir(tree().runtime());
    expect_private_dir(dir, u);

    // Opening: one login created the directory, every other one found it.
    Lines dir_lines, count_lines;
    for (const ModuleLine& l : logged(c.before("all open"), "crowd"))
        (l.text.starts_with("sessions of ") ? count_lines : dir_lines).push_back(l);
    const std::string created = "created " + dir + " for " + who(u);
    const std::string kept = "kept " + dir + " for " + who(u) + ": already right";
    int n_created = 0, n_found = 0;
    for (const ModuleLine& l : dir_lines) {
        if (l == ModuleLine{LOG_NOTICE, created}) {
            ++n_created;
        } else if (l == ModuleLine{LOG_DEBUG, kept}) {
            ++n_found;
        } else {
            ADD_FAILURE() << "unexpected line: " << l.text;
        }
    }
    EXPECT_EQ(n_created, 1) << c.dump();
    EXPECT_EQ(n_found, kLogins - 1) << c.dump();
    Lines want_counted;
    for (int i = 1; i <= kLogins; ++i)
        want_counted.push_back({LOG_DEBUG, "sessions of " + who(u) + ": " + std::to_string(i)});
    EXPECT_EQ(sorted(count_lines), sorted(want_counted)) << c.dump();

    // Closing: every logout seen once, the last one alone reaps (nothing).
    Lines want_closed;
    for (int i = 1; i < kLogins; ++i)
        want_closed.push_back({LOG_DEBUG, "not reaping for " + who(u) + ": " +
                                              std::to_string(i) + " session(s) left"});
    want_closed.push_back(
        {LOG_INFO, "last session of " + who(u) + " ended: reaped 0 of 0 tmux server(s)"});
    EXPECT_EQ(sorted(logged(c.after("all open"), "crowd")), sorted(want_closed)) << c.dump();
}

// ---------------------------------------------------------------- 7. arguments

// no_tmux_tmpdir: the directory is made, TMUX_TMPDIR is not exported, and a
// refusal does not claim to have withheld it.
TEST_F(Pam, NoTmuxTmpdirMakesTheDirectoryWithoutExport)
{
    const Account& u = user("owner");
    const Account& v = user("viewer");
    service("noexport", "no_tmux_tmpdir");
    Captured c = login("noexport", u);
    ASSERT_EQ(c.status, 0) << c.dump();
    const std::string dir = tree().user_dir(u.uid);
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("env"), "<unset>");
    EXPECT_EQ(c.get("close"), "PAM_SUCCESS");
    expect_private_dir(dir, u);
    EXPECT_EQ(logged(c, "noexport"),
              (Lines{{LOG_NOTICE, "created " + dir + " for " + who(u)}}));

    const std::string fifo = tree().user_dir(v.uid);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    Captured refused = login("noexport", v);
    EXPECT_EQ(refused.get("open"), "PAM_SESSION_ERR") << refused.dump();
    EXPECT_EQ(logged(refused, "noexport"),
              (Lines{{LOG_ERR, "refused: " + who(v) + ": path-unsafe-dir: " + fifo +
                                   ": not a directory; left alone"}}))
        << refused.dump();
}

// A repeated argument: the last one wins (runtime_dir= and fail=).
TEST_F(Pam, RepeatedArgumentsLastOneWins)
{
    const Account& u = user("owner");
    const std::string first = tree().root() + "/first";
    const std::string last = tree().root() + "/last";
    tree().service_write("twice", "runtime_dir=" + first + " runtime_dir=" + last);
    Captured c = login("twice", u);
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("env"), last + "/" + std::to_string(u.uid));
    expect_private_dir(last + "/" + std::to_string(u.uid), u);
    EXPECT_EQ(node_of(first).kind, "missing");

    plant_fifo(tree(), u);
    service("deny-last", "fail=ignore fail=deny");
    service("ignore-last", "fail=deny fail=ignore");
    Captured d = syslog_capture([&](Report& r) {
        pam_login(r, confdir(), "deny-last", u.name, "deny.");
        pam_login(r, confdir(), "ignore-last", u.name, "ignore.");
    });
    EXPECT_EQ(d.get("deny.open"), "PAM_SESSION_ERR") << d.dump();
    EXPECT_EQ(d.get("ignore.open"), "PAM_IGNORE") << d.dump();
}

// An unknown or malformed argument: PAM_SERVICE_ERR from open and from
// close, logged with the argument escaped, nothing done. The user does not
// exist, so a module that wrongly accepted the argument would stop at the
// account (PAM_USER_UNKNOWN) and never create anything, even for "/".
TEST_F(Pam, BadArgumentsAreServiceErrors)
{
    const std::string ghost = World::get().tag() + "-ghost";
    const std::string unknown =
        ": unknown argument (known: debug, runtime_dir=PATH, no_tmux_tmpdir, reap_on_logout, "
        "fail=deny|ignore)";
    const std::string unclean = ": runtime_dir= needs a clean absolute path other than /";
    const std::string rt = tree().runtime();
    struct Bad {
        std::string arg, logged;
    };
    const std::vector<Bad> bad = {
        {"bogus", "bogus" + unknown},
        {"Debug", "Debug" + unknown},
        {"fail=maybe", "fail=maybe" + unknown},
        {"reap_on_logout=1", "reap_on_logout=1" + unknown},
        {"bogus\x1b[2J", "bogus\\x1b[2J" + unknown},
        {"runtime_dir=run/tmuxguard", "runtime_dir=run/tmuxguard" + unclean},
        {"runtime_dir=/", "runtime_dir=/" + unclean},
        {"runtime_dir=", "runtime_dir=" + unclean},
        {"runtime_dir=" + rt + "/../x", "runtime_dir=" + rt + "/../x" + unclean},
        {"runtime_dir=" + rt + "/", "runtime_dir=" + rt + "/" + unclean},
        {"runtime_dir=" + tree().root() + "//run",
         "runtime_dir=" + tree().root() + "//run" + unclean},
    };
    for (std::size_t i = 0; i < bad.size(); ++i)
        service("bad" + std::to_string(i), "debug " + bad[i].arg);
    Captured c = syslog_capture([&](Report& r) {
        for (std::size_t i = 0; i < bad.size(); ++i) {
            const std::string svc = "bad" + std::to_string(i);
            pam_open_only(r, confdir(), svc, ghost, svc + ".");
            pam_close_only(r, confdir(), svc, ghost, svc + ".");
        }
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    for (std::size_t i = 0; i < bad.size(); ++i) {
        SCOPED_TRACE(bad[i].arg);
        const std::string svc = "bad" + std::to_string(i);
        EXPECT_EQ(c.get(svc + ".open"), "PAM_SERVICE_ERR") << c.dump();
        EXPECT_EQ(c.get(svc + ".env"), "<unset>");
        EXPECT_EQ(c.get(svc + ".close"), "PAM_SERVICE_ERR");
        const ModuleLine line{LOG_ERR, "refused: bad-argument: " + bad[i].logged};
        EXPECT_EQ(logged(c, svc), (Lines{line, line})) << c.dump();
    }
    EXPECT_EQ(node_of(tree().root() + "/run").kind, "missing");
}

// ---------------------------------------------------------------- 8. unknown user

// PAM_USER without an account: PAM_USER_UNKNOWN (fail=deny) or PAM_IGNORE
// (fail=ignore) from open and, with reap_on_logout, from close; logged with
// the name escaped. No PAM_USER at all is refused the same way.
TEST_F(Pam, UnknownUserIsRefused)
{
    const std::string ghost = World::get().tag() + "-ghost";
    const std::string hostile = World::get().tag() + "-gh\x1b[2Jost";
    const std::string hostile_shown = World::get().tag() + "-gh\\x1b[2Jost";
    service("ghost-deny", "reap_on_logout");
    service("ghost-ignore", "reap_on_logout fail=ignore");
    Captured c = syslog_capture([&](Report& r) {
        pam_login(r, confdir(), "ghost-deny", ghost, "deny.");
        pam_login(r, confdir(), "ghost-ignore", ghost, "ignore.");
        pam_login(r, confdir(), "ghost-deny", hostile, "hostile.");
        PamHandle none(confdir(), "ghost-deny", nullptr);
        r["none.open"] = none.open();
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    EXPECT_EQ(c.get("deny.open"), "PAM_USER_UNKNOWN") << c.dump();
    EXPECT_EQ(c.get("deny.close"), "PAM_USER_UNKNOWN");
    EXPECT_EQ(c.get("ignore.open"), "PAM_IGNORE");
    EXPECT_EQ(c.get("ignore.close"), "PAM_IGNORE");
    EXPECT_EQ(c.get("hostile.open"), "PAM_USER_UNKNOWN");
    EXPECT_EQ(c.get("none.open"), "PAM_USER_UNKNOWN");
    for (const char* p : {"deny.", "ignore.", "hostile."})
        EXPECT_EQ(c.get(p + std::string("env")), "<unset>");
    const ModuleLine open_line{LOG_ERR, "refused: unknown-user: " + ghost + ": no such account"};
    const ModuleLine close_line{LOG_ERR,
                                "not reaping: unknown-user: " + ghost + ": no such account"};
    EXPECT_EQ(logged(c, "ghost-ignore"), (Lines{open_line, close_line})) << c.dump();
    EXPECT_EQ(logged(c, "ghost-deny"),
              (Lines{open_line, close_line,
                     {LOG_ERR, "refused: unknown-user: " + hostile_shown + ": no such account"},
                     {LOG_ERR, "not reaping: unknown-user: " + hostile_shown + ": no such account"},
                     {LOG_ERR, "refused: no-user: PAM_USER is not set"}}))
        << c.dump();
    EXPECT_EQ(node_of(tree().root() + "/run").kind, "missing");
}

// ---------------------------------------------------------------- 9. reaping

// reap_on_logout with real tmux servers under RUNTIME/UID/tmux-UID, two
// sessions of the user open on their own handles: closing the first reaps
// nothing; closing the last ends the idle server and logs it, while the
// server with an attached client, an idle share of the policy, another
// user's server, and that server's socket hard-linked into the user's
// directory and chowned to him (its peer is not the user) live on.
TEST_F(Pam, ReapOnLogoutEndsOnlyIdleServersAtTheLastLogout)
{
    const Account& u = user("owner");
    const Account& o = user("other");
    service("plain");
    service("reap", "debug reap_on_logout");
    const std::string dir = tree().user_dir(u.uid);
    const std::string odir = tree().user_dir(o.uid);
    const std::string tmux_dir = dir + "/tmux-" + std::to_string(u.uid);
    Captured prepared = syslog_capture([&](Report& r) {
        pam_login(r, confdir(), "plain", u.name, "u.");
        pam_login(r, confdir(), "plain", o.name, "o.");
    });
    ASSERT_EQ(prepared.get("u.open"), "PAM_SUCCESS") << prepared.dump();
    ASSERT_EQ(prepared.get("o.open"), "PAM_SUCCESS") << prepared.dump();

    const pid_t idle = user_tmux_start(u, dir);
    const pid_t busy = user_tmux_start(u, dir, "busy");
    Outer watcher = outer_attach(u, {"-L", "busy", "attach-session"},
                                 {"-u", "TMUX", "TMUX_TMPDIR=" + dir}, "/usr/bin/tmux");
    ASSERT_TRUE(wait_until([&] { return !user_tmux_clients(u, dir, "busy").empty(); }))
        << "no client attached to the busy server\n"
        << outer_capture(watcher);
    const pid_t others = user_tmux_start(o, odir);
    const std::string intruder = tmux_dir + "/intruder";
    ASSERT_EQ(::link((odir + "/tmux-" + std::to_string(o.uid) + "/default").c_str(),
                     intruder.c_str()),
              0)
        << std::strerror(errno);
    ASSERT_EQ(::chown(intruder.c_str(), u.uid, u.gid), 0) << std::strerror(errno);
    Share share = share_make(World::get().unique_name("idle"), tmux_dir + "/share");
    ASSERT_NO_FATAL_FAILURE(policy_install({share.policy_line()}));
    ASSERT_NO_FATAL_FAILURE(serve(share));
    ASSERT_TRUE(proc_is_alive(idle) && proc_is_alive(busy) && proc_is_alive(others));

    Captured c = syslog_capture([&](Report& r) {
        PamHandle first(confdir(), "reap", u.name.c_str());
        PamHandle last(confdir(), "reap", u.name.c_str());
        r["first.open"] = first.open();
        r["last.open"] = last.open();
        r["env"] = last.env("TMUX_TMPDIR");
        syslog_mark("opened");
        r["first.close"] = first.close();
        r["idle after first close"] = proc_is_alive(idle) ? "alive" : "gone";
        syslog_mark("first closed");
        r["last.close"] = last.close();
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    EXPECT_EQ(c.get("first.open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("last.open"), "PAM_SUCCESS");
    EXPECT_EQ(c.get("env"), dir);
    const std::string kept = "kept " + dir + " for " + who(u) + ": already right";
    EXPECT_EQ(logged(c.before("opened"), "reap"),
              (Lines{{LOG_DEBUG, kept},
                     {LOG_DEBUG, "sessions of " + who(u) + ": 1"},
                     {LOG_DEBUG, kept},
                     {LOG_DEBUG, "sessions of " + who(u) + ": 2"}}))
        << c.dump();

    EXPECT_EQ(c.get("first.close"), "PAM_SUCCESS");
    EXPECT_EQ(c.get("idle after first close"), "alive") << "reaped while a session was left";
    EXPECT_EQ(logged(c.after("opened").before("first closed"), "reap"),
              (Lines{{LOG_DEBUG, "not reaping for " + who(u) + ": 1 session(s) left"}}))
        << c.dump();

    EXPECT_EQ(c.get("last.close"), "PAM_SUCCESS");
    EXPECT_EQ(sorted(logged(c.after("first closed"), "reap")),
              sorted(Lines{{LOG_NOTICE,
                            "reaped " + tmux_dir + "/default: no client attached at logout"},
                           {LOG_DEBUG, "not reaping " + tmux_dir + "/busy: a client is attached"},
                           {LOG_NOTICE, "last session of " + who(u) +
                                            " ended: reaped 1 of 2 tmux server(s)"}}))
        << c.dump();
    EXPECT_TRUE(wait_until([&] { return !proc_is_alive(idle); })) << "the idle server lives on";
    EXPECT_TRUE(proc_is_alive(busy)) << "a server with a client was reaped";
    EXPECT_FALSE(user_tmux_clients(u, dir, "busy").empty()) << "the client was detached";
    EXPECT_TRUE(proc_is_alive(others)) << "another user's server was reaped";
    EXPECT_TRUE(proc_is_alive(share.server_pid)) << "an idle share was reaped";

    // The count is root's: the user can neither fake a logout nor block one.
    const Node count_dir = node_of(tree().runtime() + "/.sessions");
    const Node count = node_of(tree().runtime() + "/.sessions/" + std::to_string(u.uid));
    EXPECT_EQ(count_dir.kind + " " + std::to_string(count_dir.uid), "dir 0");
    EXPECT_EQ(count_dir.mode, 0700u);
    EXPECT_EQ(count.kind + " " + std::to_string(count.uid), "file 0");
    EXPECT_EQ(count.mode, 0600u);
}

// The last logout reaped the user's idle `default` server, logged exactly
// so, and its process is gone.
void expect_reaped_default(const Captured& c, const std::string& svc, const std::string& dir,
                           const Account& u, pid_t idle)
{
    EXPECT_EQ(logged(c, svc),
              (Lines{{LOG_NOTICE, "reaped " + dir + "/tmux-" + std::to_string(u.uid) +
                                      "/default: no client attached at logout"},
                     {LOG_NOTICE,
                      "last session of " + who(u) + " ended: reaped 1 of 1 tmux server(s)"}}))
        << c.dump();
    EXPECT_TRUE(wait_until([&] { return !proc_is_alive(idle); })) << "nothing was reaped";
}

// A login whose handle ends without close_session (an aborted login: sshd,
// login and su skip close after a failure later in the stack) gives its
// count back, so the user's next last logout still reaps.
TEST_F(Pam, AbortedLoginDoesNotKeepServersAlive)
{
    const Account& u = user("viewer");
    service("plain");
    service("reap", "reap_on_logout");
    const std::string dir = tree().user_dir(u.uid);
    Captured prepared = login("plain", u);
    ASSERT_EQ(prepared.get("open"), "PAM_SUCCESS") << prepared.dump();
    const pid_t idle = user_tmux_start(u, dir);
    Captured c = syslog_capture([&](Report& r) {
        pam_open_only(r, confdir(), "reap", u.name, "aborted.");  // pam_end, no close
        pam_login(r, confdir(), "reap", u.name, "next.");
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    EXPECT_EQ(c.get("aborted.open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("next.open"), "PAM_SUCCESS");
    EXPECT_EQ(c.get("next.close"), "PAM_SUCCESS");
    expect_reaped_default(c, "reap", dir, u, idle);
}

// Without reap_on_logout the last logout leaves an idle server alone.
TEST_F(Pam, WithoutReapOnLogoutNothingIsReaped)
{
    const Account& u = user("viewer");
    service("plain");
    service("keep", "debug");
    const std::string dir = tree().user_dir(u.uid);
    Captured prepared = login("plain", u);
    ASSERT_EQ(prepared.get("open"), "PAM_SUCCESS") << prepared.dump();
    const pid_t idle = user_tmux_start(u, dir);
    Captured c = login("keep", u);
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("close"), "PAM_SUCCESS");
    EXPECT_EQ(logged(c, "keep"),
              (Lines{{LOG_DEBUG, "kept " + dir + " for " + who(u) + ": already right"}}))
        << c.dump();
    EXPECT_TRUE(proc_is_alive(idle));
    EXPECT_EQ(node_of(tree().runtime() + "/.sessions").kind, "missing");
}

// A policy with an error: which sockets are shares is unknown, so the last
// logout reaps nothing, says why, and returns the refusal status.
TEST_F(Pam, InvalidPolicyMeansNoReaping)
{
    const Account& u = user("nobody");
    service("plain");
    service("reap-invalid", "reap_on_logout");
    const std::string dir = tree().user_dir(u.uid);
    Captured prepared = login("plain", u);
    ASSERT_EQ(prepared.get("open"), "PAM_SUCCESS") << prepared.dump();
    const pid_t idle = user_tmux_start(u, dir);
    ASSERT_NO_FATAL_FAILURE(policy_write({"share"}));
    RunResult reload = cli_run({"reload"});
    ASSERT_NE(reload.status, 0) << "reload accepted a broken policy\n" << reload.both();
    Captured c = login("reap-invalid", u);
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("close"), "PAM_SESSION_ERR") << c.dump();
    EXPECT_EQ(logged(c, "reap-invalid"),
              (Lines{{LOG_ERR, "not reaping for " + who(u) + ": policy-invalid: " +
                                   tg::paths::compiled_policy +
                                   ": the policy has an error, so its shares are unknown"}}))
        << c.dump();
    EXPECT_TRUE(proc_is_alive(idle));
}

// reap contract 2: the compiled policy is read only when the user's tmux
// directory holds a socket. A user who never started a private tmux logs out
// cleanly even under a broken policy: nothing to reap, nothing to say.
TEST_F(Pam, InvalidPolicyIsNotReadWhenTheUserHasNoServer)
{
    const Account& u = user("nobody");
    service("plain");
    service("reap-none", "reap_on_logout");
    Captured prepared = login("plain", u);
    ASSERT_EQ(prepared.get("open"), "PAM_SUCCESS") << prepared.dump();
    ASSERT_NO_FATAL_FAILURE(policy_write({"share"}));
    RunResult reload = cli_run({"reload"});
    ASSERT_NE(reload.status, 0) << "reload accepted a broken policy\n" << reload.both();
    Captured c = login("reap-none", u);
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("close"), "PAM_SUCCESS") << c.dump();
    for (const auto& line : logged(c, "reap-none"))
        EXPECT_FALSE(contains(line.text, "not reaping")) << c.dump();
}

// ---------------------------------------------------------------- 10. exceptions

// Whatever is thrown inside an entry point (std::exception, bad_alloc, a
// non-exception): PAM_SYSTEM_ERR from open and close, "internal error" at
// LOG_CRIT, and the host process lives on.
TEST_F(Pam, NoExceptionEscapesTheModule)
{
    const Account& u = user("owner");
    struct Fault {
        const char* arg;
        const char* logged;
    };
    const Fault faults[] = {{"throw", "internal error: injected fault"},
                            {"bad_alloc", "internal error: std::bad_alloc"},
                            {"int", "internal error: unknown exception"}};
    for (const Fault& f : faults)
        tree().service_write(std::string("fault-") + f.arg,
                             tree().runtime_arg() + " fault=" + f.arg, pam_fault_module_path());
    Captured c = syslog_capture([&](Report& r) {
        for (const Fault& f : faults) {
            const std::string svc = std::string("fault-") + f.arg;
            pam_login(r, confdir(), svc, u.name, svc + ".");
        }
        r["alive"] = "yes";
    });
    EXPECT_EQ(c.status, 0) << "the host process died\n" << c.dump();
    EXPECT_EQ(c.get("alive"), "yes");
    for (const Fault& f : faults) {
        SCOPED_TRACE(f.arg);
        const std::string svc = std::string("fault-") + f.arg;
        EXPECT_EQ(c.get(svc + ".open"), "PAM_SYSTEM_ERR") << c.dump();
        EXPECT_EQ(c.get(svc + ".env"), "<unset>");
        EXPECT_EQ(c.get(svc + ".close"), "PAM_SYSTEM_ERR");
        EXPECT_EQ(logged(c, svc, "pam_tmuxguard_fault"),
                  (Lines{{LOG_CRIT, f.logged}, {LOG_CRIT, f.logged}}))
            << c.dump();
    }
}

// ---------------------------------------------------------------- 11. host state

namespace {

volatile sig_atomic_t g_host_sigchld = 0;

void host_sigchld(int)
{
    g_host_sigchld = g_host_sigchld + 1;
}

// What a host such as login or sshd keeps across the module's calls.
std::string host_state()
{
    std::ostringstream s;
    mode_t mask = ::umask(0);
    ::umask(mask);
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    ::getresuid(&ru, &eu, &su);
    ::getresgid(&rg, &eg, &sg);
    gid_t groups[64];
    int n = ::getgroups(64, groups);
    struct sigaction sa {};
    ::sigaction(SIGCHLD, nullptr, &sa);
    sigset_t blocked;
    ::sigprocmask(SIG_BLOCK, nullptr, &blocked);
    s << "umask " << std::oct << mask << std::dec << "\nuid " << ru << "," << eu << "," << su
      << "\ngid " << rg << "," << eg << "," << sg << "\ngroups";
    for (int i = 0; i < n; ++i)
        s << " " << groups[i];
    s << "\nSIGCHLD handler " << reinterpret_cast<void*>(sa.sa_handler) << " flags " << std::hex
      << sa.sa_flags << std::dec << " mask-USR1 " << sigismember(&sa.sa_mask, SIGUSR1)
      << "\nblocked-USR2 " << sigismember(&blocked, SIGUSR2)
      << "\nfds " << dir_names("/proc/self/fd")
      << "\ncwd " << fs::current_path().string() << "\n";
    return s.str();
}

}  // namespace

// An open and close that reap (so the module forks tmux as the user) leave
// the host's umask, ids, groups, SIGCHLD handler, signal mask, descriptors
// and directory as they were.
TEST_F(Pam, HostProcessStateIsUnchangedByOpenAndReapingClose)
{
    const Account& u = user("typist");
    service("prepare");
    service("host", "reap_on_logout");
    const std::string dir = tree().user_dir(u.uid);
    Captured prepared = login("prepare", u);
    ASSERT_EQ(prepared.get("open"), "PAM_SUCCESS") << prepared.dump();
    const pid_t idle = user_tmux_start(u, dir);
    const struct group* team = ::getgrnam(World::get().team_group().c_str());
    ASSERT_NE(team, nullptr);
    const gid_t team_gid = team->gr_gid;

    Captured c = syslog_capture([&](Report& r) {
        ::umask(027);
        if (::setgroups(1, &team_gid) != 0 || ::setresgid(team_gid, 0, team_gid) != 0)
            r["setup"] = std::strerror(errno);
        struct sigaction sa {};
        sa.sa_handler = host_sigchld;
        sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGUSR1);
        ::sigaction(SIGCHLD, &sa, nullptr);
        sigset_t usr2;
        sigemptyset(&usr2);
        sigaddset(&usr2, SIGUSR2);
        ::sigprocmask(SIG_BLOCK, &usr2, nullptr);
        ::openlog(nullptr, LOG_NDELAY, LOG_USER);  // the log socket exists before and after
        if (::chdir("/var") != 0)
            r["setup"] = std::strerror(errno);
        r["before"] = host_state();
        pam_login(r, confdir(), "host", u.name);
        r["after"] = host_state();
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    EXPECT_EQ(c.get("setup"), "<missing>");
    EXPECT_EQ(c.get("open"), "PAM_SUCCESS") << c.dump();
    EXPECT_EQ(c.get("close"), "PAM_SUCCESS");
    EXPECT_EQ(c.get("after"), c.get("before"));
    EXPECT_TRUE(contains(c.get("before"), "umask 27\n")) << c.get("before");
    expect_reaped_default(c, "host", dir, u, idle);
}

// ---------------------------------------------------------------- 12. pamtester

// A whole login through pamtester (its own libpam, libpam_wrapper pointing
// it at our service directory): exit 0, and the account's directory exists.
TEST_F(Pam, PamtesterOpensAndClosesASession)
{
    const Account& u = user("denied");
    tree().service_write_lines("tgpamtester", {"session required " + pam_module_path() + " " +
                                                   tree().runtime_arg()});
    Captured c = syslog_capture([&](Report& r) {
        RunOptions opt;
#ifdef TG_SANITIZER_PRELOAD
        // the sanitized module needs the ASan runtime first in the process
        const std::string preload = "LD_PRELOAD=" TG_SANITIZER_PRELOAD " libpam_wrapper.so";
#else
        const std::string preload = "LD_PRELOAD=libpam_wrapper.so";
#endif
        opt.extra_env = {preload, "PAM_WRAPPER=1",
                         "PAM_WRAPPER_SERVICE_DIR=" + confdir(), "PAM_WRAPPER_USE_SYSLOG=1"};
        RunResult res = proc_run(
            {"pamtester", "-v", "tgpamtester", u.name, "open_session", "close_session"}, opt);
        r["status"] = std::to_string(res.status);
        r["output"] = res.both();
    });
    ASSERT_EQ(c.status, 0) << c.dump();
    EXPECT_EQ(c.get("status"), "0") << c.get("output");
    EXPECT_TRUE(contains(c.get("output"), "successfully opened a session")) << c.get("output");
    EXPECT_TRUE(contains(c.get("output"), "session has successfully been closed"))
        << c.get("output");
    const std::string dir = tree().user_dir(u.uid);
    expect_private_dir(dir, u);
    EXPECT_EQ(logged(c, "tgpamtester"),
              (Lines{{LOG_NOTICE, "created " + dir + " for " + who(u)}}))
        << c.dump();
}

// ---------------------------------------------------------------- 13. exports

// The installed module exports the two session entry points and nothing
// else (no libtmuxguard or libstdc++ symbol for the host to collide with).
TEST_F(Pam, ModuleExportsOnlyTheSessionEntryPoints)
{
    RunResult r = proc_run({"nm", "-D", "--defined-only", pam_module_path()});
    ASSERT_EQ(r.status, 0) << r.both();
    std::set<std::string> names;
    for (const auto& line : split_lines(r.out)) {
        std::istringstream words(line);
        std::string w, last;
        while (words >> w)
            last = w;
        if (!last.empty())
            names.insert(last);
    }
    EXPECT_EQ(names, (std::set<std::string>{"pam_sm_close_session", "pam_sm_open_session"}))
        << r.out;
}

}  // namespace tge2e
