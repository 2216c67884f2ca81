// The system integration files that `cmake --install` puts into the test
// prefix (config/system/): the systemd units, tmpfiles.d, the runtime
// directory's tmpfs mount and logrotate, checked with the real tools
// (systemd-analyze, systemd-tmpfiles, logrotate, mount) against the real
// installed programs, accounts and tmux servers. systemd is not PID 1 here,
// so no unit is started: what a unit would do is done the way systemd would
// do it (its ExecStart= in a mount namespace and bounding set built from the
// unit's own sandbox options), and every such emulation says which option it
// stands for.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace {
namespace fs = std::filesystem;

// A value of the build's CMakeCache.txt ("NAME:TYPE=value"), "" when absent.
std::string cache_value(const std::string& name)
{
    std::ifstream in(std::string(TG_BUILD_DIR) + "/CMakeCache.txt");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + ":", 0) != 0)
            continue;
        std::size_t eq = line.find('=');
        if (eq != std::string::npos)
            return line.substr(eq + 1);
    }
    return {};
}

// Where the build installs its units (TMUXGUARD_SYSTEMD_UNIT_DIR).
std::string unit_dir()
{
    return cache_value("TMUXGUARD_SYSTEMD_UNIT_DIR");
}

// The installed tmpfiles.d file.
std::string tmpfiles_conf()
{
    return cache_value("TMUXGUARD_TMPFILES_DIR") + "/tmuxguard.conf";
}

// The installed logrotate file (SYSCONFDIR/logrotate.d).
std::string logrotate_conf()
{
    return path_prefix() + "/etc/logrotate.d/tmuxguard";
}

// The directory part of `path`.
std::string dir_of(const std::string& path)
{
    return fs::path(path).parent_path().string();
}

// The mount unit's name for the build's runtime directory, by systemd-escape
// itself ("" when it fails).
std::string mount_unit()
{
    RunResult r = proc_run(
        {"systemd-escape", "--path", "--suffix=mount", tg::paths::default_runtime_dir});
    return r.status == 0 && !r.out.empty() ? r.out.substr(0, r.out.size() - 1) : "";
}

// The units config/system installs, the mount unit named after the runtime dir.
std::vector<std::string> units_expected()
{
    return {"tmuxguard-reload.path", "tmuxguard-reload.service", "tmuxguard-sync.timer",
            "tmuxguard-sync.service", "tmuxguard-reap.timer",    "tmuxguard-reap.service",
            "tmuxguard-serve@.service", mount_unit()};
}

// Every value of KEY= in a unit file, in order (all sections; comments skipped).
std::vector<std::string> unit_values(const std::string& path, const std::string& key)
{
    std::vector<std::string> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key + "=", 0) == 0)
            out.push_back(line.substr(key.size() + 1));
    }
    return out;
}

// The blank-separated words of `s`.
std::vector<std::string> words(const std::string& s)
{
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;)
        out.push_back(w);
    return out;
}

// A root-owned scratch directory under /var/lib, removed with the object.
struct Scratch {
    std::string path;
    Scratch()
    {
        char tmpl[] = "/var/lib/tg-units-XXXXXX";
        const char* p = mkdtemp(tmpl);
        path = p != nullptr ? p : "";
    }
    ~Scratch()
    {
        std::error_code ec;
        if (!path.empty())
            fs::remove_all(path, ec);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};

// "OWNER:GROUP MODE" of `path` (lstat), numeric ids, mode in octal; "" if absent.
std::string file_meta(const std::string& path)
{
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0)
        return "";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%u:%u %04o", st.st_uid, st.st_gid,
                  static_cast<unsigned>(st.st_mode & 07777));
    return buf;
}

// `systemd-analyze verify` passes only when it exits 0 and says nothing:
// it exits 0 on an unknown key or a value it cannot parse, and only warns.
RunResult verify_unit(const std::string& path)
{
    RunOptions opt;
    opt.extra_env = {"MANPATH=" + path_prefix() + "/share/man"};
    opt.timeout = 60s;
    return proc_run({"systemd-analyze", "verify", path}, opt);
}

// Whether a verify_unit() run found nothing at all.
bool verify_clean(const RunResult& r)
{
    return r.status == 0 && r.out.empty() && r.err.empty();
}

// The sandbox options of a root service unit, as an emulation needs them.
struct UnitSandbox {
    std::vector<std::string> exec;       // ExecStart=, split, ${VAR} expanded
    std::vector<std::string> rw_paths;   // ReadWritePaths= ('-' removed)
    std::vector<std::string> test_rw;    // writable for the test's own files, not the unit's
    std::string bounding;                // setpriv --bounding-set value
    bool no_new_privs = false;
    bool strict = false;
    bool private_tmp = false;
    std::string proc_options;            // ProtectProc=/ProcSubset= as procfs options
};

// Expands ${NAME} from `env` as systemd does for one word of ExecStart=.
std::string env_expand(const std::string& word, const std::map<std::string, std::string>& env)
{
    static const std::regex var(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
    std::string out;
    std::sregex_iterator it(word.begin(), word.end(), var), end;
    std::size_t last = 0;
    for (; it != end; ++it) {
        out += word.substr(last, static_cast<std::size_t>(it->position()) - last);
        auto e = env.find((*it)[1]);
        out += e == env.end() ? "" : e->second;
        last = static_cast<std::size_t>(it->position() + it->length());
    }
    return out + word.substr(last);
}

// KEY=VALUE lines of an EnvironmentFile= ('-' prefix: optional).
void env_file_read(std::string path, std::map<std::string, std::string>& env)
{
    if (!path.empty() && path[0] == '-')
        path.erase(0, 1);
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        std::size_t eq = line.find('=');
        if (line.empty() || line[0] == '#' || eq == std::string::npos)
            continue;
        env[line.substr(0, eq)] = line.substr(eq + 1);
    }
}

// The sandbox options and ExecStart= (with Environment= and EnvironmentFile=
// expanded) of the unit file `unit`.
UnitSandbox sandbox_of(const std::string& unit)
{
    UnitSandbox sb;
    std::map<std::string, std::string> env;
    for (const auto& e : unit_values(unit, "Environment")) {
        std::size_t eq = e.find('=');
        env[e.substr(0, eq)] = e.substr(eq + 1);
    }
    for (const auto& f : unit_values(unit, "EnvironmentFile"))
        env_file_read(f, env);
    for (const auto& w : words(unit_values(unit, "ExecStart").at(0)))
        sb.exec.push_back(env_expand(w, env));
    for (const auto& v : unit_values(unit, "ReadWritePaths")) {
        for (auto w : words(v))
            sb.rw_paths.push_back(w[0] == '-' ? w.substr(1) : w);
    }
    sb.bounding = "-all";
    for (const auto& v : unit_values(unit, "CapabilityBoundingSet")) {
        for (auto w : words(v)) {
            std::string cap = w.substr(4);  // CAP_
            std::transform(cap.begin(), cap.end(), cap.begin(), ::tolower);
            sb.bounding += ",+" + cap;
        }
    }
    sb.no_new_privs = unit_values(unit, "NoNewPrivileges") == std::vector<std::string>{"yes"};
    sb.strict = unit_values(unit, "ProtectSystem") == std::vector<std::string>{"strict"};
    sb.private_tmp = unit_values(unit, "PrivateTmp") == std::vector<std::string>{"yes"};
    for (const auto& v : unit_values(unit, "ProtectProc"))
        sb.proc_options += (sb.proc_options.empty() ? "hidepid=" : ",hidepid=") + v;
    for (const auto& v : unit_values(unit, "ProcSubset"))
        sb.proc_options += (sb.proc_options.empty() ? "subset=" : ",subset=") + v;
    return sb;
}

// Child side of sandbox_run: the mount namespace of ProtectSystem=strict with
// ReadWritePaths= (everything read-only but the API file systems and those
// paths), PrivateTmp= and ProtectProc=/ProcSubset= (a procfs of its own
// with hidepid= and subset=). Returns false (errno set) when a step fails.
bool sandbox_mounts(const UnitSandbox& sb)
{
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return false;
    const unsigned long proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (!sb.proc_options.empty() &&
        mount("proc", "/proc", "proc", proc_flags, sb.proc_options.c_str()) != 0)
        return false;
    if (sb.private_tmp) {
        for (const char* t : {"/tmp", "/var/tmp"}) {
            if (mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
                return false;
        }
    }
    if (!sb.strict)
        return true;
    std::vector<std::string> binds = sb.rw_paths;
    binds.insert(binds.end(), sb.test_rw.begin(), sb.test_rw.end());
    for (const auto& p : binds) {
        if (fs::exists(p) && mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
            return false;
    }
    struct mount_attr ro {};
    ro.attr_set = MOUNT_ATTR_RDONLY;
    if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) != 0)
        return false;
    struct mount_attr rw {};
    rw.attr_clr = MOUNT_ATTR_RDONLY;
    std::vector<std::string> writable = {"/dev", "/proc", "/sys"};
    if (sb.private_tmp)
        writable.insert(writable.end(), {"/tmp", "/var/tmp"});
    writable.insert(writable.end(), binds.begin(), binds.end());
    for (const auto& p : writable) {
        if (fs::exists(p) && mount_setattr(AT_FDCWD, p.c_str(), AT_RECURSIVE, &rw, sizeof rw) != 0)
            return false;
    }
    return true;
}

// Runs the unit's ExecStart= as systemd would with its sandbox: the mount
// namespace above, then setpriv for CapabilityBoundingSet= and
// NoNewPrivileges=; under `strace -f -o TRACE` when `trace` is not empty.
RunResult sandbox_run(const UnitSandbox& sb, const std::string& out_dir, const std::string& trace)
{
    std::vector<std::string> argv;
    if (!trace.empty())
        argv = {"/usr/bin/strace", "-f", "-qq", "-o", trace};
    argv.insert(argv.end(),
                {"/usr/bin/setpriv", "--bounding-set", sb.bounding, "--inh-caps", "-all"});
    if (sb.no_new_privs)
        argv.push_back("--no-new-privs");
    argv.push_back("--");
    argv.insert(argv.end(), sb.exec.begin(), sb.exec.end());
    const std::string out = out_dir + "/out", err = out_dir + "/err";
    RunResult r;
    r.pid = fork();
    if (r.pid == 0) {
        int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int n = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (o < 0 || e < 0 || n < 0 || dup2(n, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(120);
        if (!sandbox_mounts(sb)) {
            std::fprintf(stderr, "sandbox: %s\n", std::strerror(errno));
            _exit(121);
        }
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
        static char lang_env[] = "LANG=C.UTF-8";
#ifdef TG_SANITIZER_PRELOAD
        // The sanitized build (tests/sanitize.sh): LeakSanitizer refuses to
        // run under ptrace (strace) and exits with the sanitizer's status,
        // its message lost on the sandbox's read-only report directory. The
        // same commands are leak-checked in every other e2e test; ASan and
        // UBSan still check these runs.
        static char asan_env[] = "ASAN_OPTIONS=detect_leaks=0";
        char* envp[] = {path_env, lang_env, asan_env, nullptr};
#else
        char* envp[] = {path_env, lang_env, nullptr};
#endif
        execve(args[0], args.data(), envp);
        _exit(122);
    }
    int ws = 0;
    bool done = wait_until([&] { return waitpid(r.pid, &ws, WNOHANG) == r.pid; }, 60s);
    if (!done) {
        kill(r.pid, SIGKILL);
        waitpid(r.pid, &ws, 0);
        r.timed_out = true;
    }
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r.out = file_read(out);
    r.err = file_read(err);
    return r;
}

// Every system call systemd's SystemCallFilter=@GROUP allows, groups expanded
// from `systemd-analyze syscall-filter` (the list of this very systemd).
std::set<std::string> syscall_group_expand(const std::string& group)
{
    RunResult r = proc_run({"systemd-analyze", "syscall-filter", "--no-pager"});
    std::map<std::string, std::vector<std::string>> groups;
    std::string current;
    for (const auto& raw : split_lines(r.out)) {
        std::string line = std::regex_replace(raw, std::regex(R"(^\s+|\s+$)"), "");
        if (line.empty() || line[0] == '#')
            continue;
        if (raw[0] == '@') {
            current = line;
            continue;
        }
        if (!current.empty())
            groups[current].push_back(line);
    }
    std::set<std::string> out;
    std::vector<std::string> todo = {group};
    std::set<std::string> seen;
    while (!todo.empty()) {
        std::string g = todo.back();
        todo.pop_back();
        if (!seen.insert(g).second)
            continue;
        for (const auto& m : groups[g]) {
            if (m[0] == '@')
                todo.push_back(m);
            else
                out.insert(m);
        }
    }
    return out;
}

// What a strace -f log shows: every system call name, every socket() family,
// and every mapping or protection change that asked for write and exec.
struct TraceFacts {
    std::set<std::string> calls;
    std::set<std::string> families;
    std::vector<std::string> wx;
};

// Only what follows the execve of `program`: systemd applies the filter
// right before that exec, so setpriv's own calls before it do not count.
TraceFacts trace_read(const std::string& path, const std::string& program)
{
    TraceFacts t;
    bool started = false;
    static const std::regex call(R"(^\d+\s+([a-z_0-9]+)\()");
    static const std::regex family(R"(socket\((AF_[A-Z0-9]+))");
    std::ifstream in(path);
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (!started) {
            started = contains(line, "execve(\"" + program + "\"") && contains(line, "= 0");
            continue;
        }
        if (std::regex_search(line, m, call))
            t.calls.insert(m[1]);
        if (std::regex_search(line, m, family))
            t.families.insert(m[1]);
        if ((contains(line, "mmap(") || contains(line, "mprotect(")) &&
            contains(line, "PROT_WRITE") && contains(line, "PROT_EXEC"))
            t.wx.push_back(line);
    }
    return t;
}

// The scenarios share the E2E fixture (world, policy, shares, outer tmux).
class SystemFilesE2E : public E2E {};

// The mount unit's Options=, parsed from the installed file.
std::string mount_options()
{
    std::vector<std::string> v = unit_values(unit_dir() + "/" + mount_unit(), "Options");
    return v.empty() ? "" : v[0];
}

// mount(2) flags and data for a tmpfs mounted with `options` (mount(8) syntax).
std::pair<unsigned long, std::string> mount_flags_data(const std::string& options)
{
    unsigned long flags = 0;
    std::string data;
    std::stringstream in(options);
    for (std::string o; std::getline(in, o, ',');) {
        if (o == "nosuid")
            flags |= MS_NOSUID;
        else if (o == "nodev")
            flags |= MS_NODEV;
        else if (o == "noexec")
            flags |= MS_NOEXEC;
        else
            data += (data.empty() ? "" : ",") + o;
    }
    return {flags, data};
}

// The parent pid of `pid` (/proc/PID/stat), 0 when it is gone.
pid_t proc_parent(pid_t pid)
{
    std::string stat = file_read("/proc/" + std::to_string(pid) + "/stat");
    std::size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos)
        return 0;
    std::istringstream in(stat.substr(close_paren + 2));
    std::string state;
    long ppid = 0;
    in >> state >> ppid;
    return static_cast<pid_t>(ppid);
}

}  // namespace

// 1. Every unit installed into the test prefix passes `systemd-analyze
//    verify` without a single warning (the programs it names are installed,
//    the man page of Documentation= is installed, every key is known and
//    parses), and the same check fails on a unit with an unknown key and on a
//    unit whose program is missing.
TEST_F(SystemFilesE2E, EveryInstalledUnitPassesSystemdAnalyzeVerify)
{
    ASSERT_FALSE(unit_dir().empty()) << "TMUXGUARD_SYSTEMD_UNIT_DIR not in the build's cache";
    for (const auto& u : units_expected()) {
        const std::string path = unit_dir() + "/" + u;
        ASSERT_EQ(file_meta(path), "0:0 0644") << path;
        RunResult r = verify_unit(path);
        EXPECT_TRUE(verify_clean(r)) << path << "\n" << r.both();
    }
    Scratch s;
    ASSERT_FALSE(s.path.empty());
    std::string text = file_read(unit_dir() + "/tmuxguard-sync.service");
    std::ofstream(s.path + "/tmuxguard-sync.service")
        << std::regex_replace(text, std::regex("\nType=oneshot\n"), "\nType=oneshot\nTypo=1\n");
    RunResult bad_key = verify_unit(s.path + "/tmuxguard-sync.service");
    EXPECT_FALSE(verify_clean(bad_key)) << "an unknown key passed:\n" << bad_key.both();
    EXPECT_TRUE(contains(bad_key.err, "Typo")) << bad_key.both();
    std::ofstream(s.path + "/tmuxguard-sync.service")
        << std::regex_replace(text, std::regex("sbin/tmuxguard "), "sbin/tmuxguard-missing ");
    RunResult bad_exec = verify_unit(s.path + "/tmuxguard-sync.service");
    EXPECT_NE(bad_exec.status, 0) << "a missing program passed:\n" << bad_exec.both();
}

// 2. Each ExecStart= is the installed CLI (root 0755) with a command it
//    knows; the mount unit is the systemd-escape'd name of the build's
//    runtime directory; the path unit watches the build's policy file and
//    drop-in directory; the sync timer elapses every minute, on the minute.
TEST_F(SystemFilesE2E, UnitsNameTheInstalledProgramAndTheBuildsPaths)
{
    const std::map<std::string, std::string> command = {
        {"tmuxguard-reload.service", "reload"},
        {"tmuxguard-sync.service", "sync"},
        {"tmuxguard-reap.service", "reap --idle ${TMUXGUARD_REAP_IDLE}"},
        {"tmuxguard-serve@.service", "serve %i"}};
    for (const auto& [unit, cmd] : command) {
        std::vector<std::string> exec = unit_values(unit_dir() + "/" + unit, "ExecStart");
        ASSERT_EQ(exec.size(), 1u) << unit;
        EXPECT_EQ(exec[0], path_cli() + " " + cmd) << unit;
    }
    EXPECT_EQ(file_meta(path_cli()), "0:0 0755");
    RunResult help = cli_run({"reap", "--help"});
    EXPECT_EQ(help.status, 0) << help.both();

    // The name CMake computed is systemd-escape's: the file of that name is installed.
    ASSERT_FALSE(mount_unit().empty());
    const std::string mount = unit_dir() + "/" + mount_unit();
    EXPECT_EQ(file_meta(mount), "0:0 0644") << mount;
    EXPECT_EQ(unit_values(mount, "Where"),
              std::vector<std::string>{tg::paths::default_runtime_dir});
    EXPECT_EQ(unit_values(mount, "What"), std::vector<std::string>{"tmpfs"});

    EXPECT_EQ(unit_values(unit_dir() + "/tmuxguard-reload.path", "PathChanged"),
              (std::vector<std::string>{tg::paths::policy_file, tg::paths::policy_dir}));

    std::vector<std::string> cal = unit_values(unit_dir() + "/tmuxguard-sync.timer", "OnCalendar");
    ASSERT_EQ(cal.size(), 1u);
    RunResult next = proc_run({"systemd-analyze", "calendar", "--iterations=3", cal[0]});
    ASSERT_EQ(next.status, 0) << next.both();
    std::vector<long> elapses;
    static const std::regex unix_time(
        R"((?:Next elapse|Iter\. #\d+): \S+ \S+ (\d\d):(\d\d):(\d\d) UTC)");
    for (const auto& line : split_lines(next.out)) {
        std::smatch m;
        if (std::regex_search(line, m, unix_time))
            elapses.push_back(std::stol(m[1]) * 3600 + std::stol(m[2]) * 60 + std::stol(m[3]));
    }
    ASSERT_EQ(elapses.size(), 3u) << next.out;
    for (std::size_t i = 0; i < elapses.size(); ++i) {
        EXPECT_EQ(elapses[i] % 60, 0) << next.out;
        if (i > 0) {
            EXPECT_EQ((elapses[i] - elapses[i - 1] + 86400) % 86400, 60) << next.out;
        }
    }
    EXPECT_EQ(unit_values(unit_dir() + "/tmuxguard-sync.timer", "AccuracySec"),
              std::vector<std::string>{"1s"});
}

// 3. The installed tmpfiles.d file, applied by systemd-tmpfiles to a scratch
//    root, makes the runtime, state and log directories root 0755; applied
//    with --prefix to the test prefix itself it repairs a drifted log
//    directory, and it agrees with reload: reload after it exits 0 and makes
//    the log root:GATE 0660, which a second tmpfiles run leaves alone.
TEST_F(SystemFilesE2E, TmpfilesMakesTheDirectoriesReloadWantsAndLeavesTheLogAlone)
{
    Scratch s;
    ASSERT_FALSE(s.path.empty());
    const std::string conf = tmpfiles_conf();
    ASSERT_EQ(file_meta(conf), "0:0 0644") << conf;
    RunResult r = proc_run({"systemd-tmpfiles", "--create", "--root=" + s.path, conf});
    ASSERT_EQ(r.status, 0) << r.both();
    const std::string log_dir = dir_of(tg::paths::default_log);
    for (const std::string& dir : {std::string(tg::paths::default_runtime_dir),
                                  dir_of(tg::paths::compiled_policy), log_dir})
        EXPECT_EQ(file_meta(s.path + dir), "0:0 0755") << dir;
    EXPECT_FALSE(fs::exists(s.path + tg::paths::default_log)) << "tmpfiles must not make the log";

    ASSERT_NO_FATAL_FAILURE(policy_install({}));
    // The drift, undone on every way out so no later test inherits it.
    struct Restore {
        std::string dir;
        ~Restore() { chmod(dir.c_str(), 0755); }
    } restore{log_dir};
    ASSERT_EQ(chmod(log_dir.c_str(), 0775), 0);
    r = proc_run({"systemd-tmpfiles", "--create", "--prefix=" + path_prefix(), conf});
    ASSERT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(file_meta(log_dir), "0:0 0755");
    EXPECT_EQ(file_meta(dir_of(tg::paths::compiled_policy)), "0:0 0755");
    RunResult reload = cli_run({"reload"});
    EXPECT_EQ(reload.status, 0) << reload.both();
    EXPECT_EQ(reload.err, "") << reload.both();
    const std::string gate_meta = "0:" + std::to_string(World::get().gate_gid()) + " 0660";
    EXPECT_EQ(file_meta(tg::paths::default_log), gate_meta);
    EXPECT_EQ(file_meta(std::string(tg::paths::default_log) + ".head"), gate_meta);
    r = proc_run({"systemd-tmpfiles", "--create", "--prefix=" + path_prefix(), conf});
    ASSERT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(file_meta(tg::paths::default_log), gate_meta);
    EXPECT_EQ(file_meta(std::string(tg::paths::default_log) + ".head"), gate_meta);
}

// 4. A real `logrotate -f` with the installed configuration rotates the test
//    prefix's real decision log; with nothing run after it (no postrotate),
//    the new file is root:GATE 0660, the wrapper appends to it at once, and
//    `tmuxguard log verify OLD NEW` finds one intact chain; so does the
//    configured log against its head.
TEST_F(SystemFilesE2E, LogrotateKeepsTheChainAndTheGate)
{
    // A fresh chain, whatever the tests before left in the log.
    const std::string log = tg::paths::default_log;
    const std::string old = log + ".1";
    for (const std::string& f : {old, log, log + ".head"})
        fs::remove(f);
    ASSERT_NO_FATAL_FAILURE(policy_install({}));
    const Account& viewer = user("viewer");
    expect_denied(attach_check(viewer, {"nosuch"}), "no-rule");
    const std::size_t old_lines = log_lines().size();
    ASSERT_GE(old_lines, 2u);

    Scratch s;
    ASSERT_FALSE(s.path.empty());
    EXPECT_FALSE(std::regex_search(file_read(logrotate_conf()),
                                   std::regex("(^|\n)\\s*(postrotate|prerotate|copytruncate)")));
    RunResult r = proc_run({"logrotate", "-f", "-s", s.path + "/state", logrotate_conf()});
    ASSERT_EQ(r.status, 0) << r.both();
    ASSERT_TRUE(fs::exists(old)) << "logrotate did not rotate " << log << "\n" << r.both();
    EXPECT_EQ(split_lines(file_read(old)).size(), old_lines);
    const std::string gate_meta = "0:" + std::to_string(World::get().gate_gid()) + " 0660";
    EXPECT_EQ(file_meta(log), gate_meta);
    EXPECT_EQ(file_read(log), "");

    RunResult v = cli_run({"log", "verify"});
    EXPECT_EQ(v.status, 0) << v.both();
    expect_denied(attach_check(viewer, {"nosuch"}), "no-rule");
    expect_denied(attach_check(user("nobody"), {"nosuch"}), "no-rule");
    EXPECT_EQ(log_lines().size(), 2u);
    v = cli_run({"log", "verify", old, log});
    EXPECT_EQ(v.status, 0) << v.both();
    EXPECT_TRUE(contains(v.out, "log OK: " + std::to_string(old_lines + 2) + " records")) << v.out;
    v = cli_run({"log", "verify"});
    EXPECT_EQ(v.status, 0) << v.both();
    EXPECT_TRUE(contains(v.out, "log OK: 2 records")) << v.out;
    EXPECT_TRUE(contains(v.out, "note: the chain continues an earlier file")) << v.out;
    EXPECT_EQ(file_meta(log), gate_meta);

    // A fresh chain for the tests after this one.
    for (const std::string& f : {old, log, log + ".head"})
        fs::remove(f);
    r = cli_run({"reload"});
    EXPECT_EQ(r.status, 0) << r.both();
}

// 5. A tmpfs mounted with exactly the mount unit's Options= (read from the
//    installed unit) as the runtime directory carries a real share: serve
//    sets the directory's and the socket's gate ACL entries on it (getfacl),
//    and a real guarded view attach through the installed wrapper gets in;
//    the tmpfs refuses to grow past its nr_inodes. Done in a private mount
//    namespace of this test, left at the end (the mount dies with it).
TEST_F(SystemFilesE2E, RuntimeTmpfsWithTheUnitsOptionsCarriesAGuardedShare)
{
    const std::string options = mount_options();
    ASSERT_TRUE(std::regex_search(options, std::regex("(^|,)mode=0755(,|$)"))) << options;
    for (const char* o : {"nosuid", "nodev", "noexec", "size=", "nr_inodes="})
        EXPECT_TRUE(contains(options, o)) << options << " lacks " << o;
    auto [flags, data] = mount_flags_data(options);

    int host_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(host_ns, 0);
    ASSERT_EQ(unshare(CLONE_NEWNS), 0) << std::strerror(errno);
    ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    const std::string rt = path_runtime_dir();
    ASSERT_EQ(mount("tmpfs", rt.c_str(), "tmpfs", flags, data.c_str()), 0)
        << "mount -t tmpfs -o " << options << " " << rt << ": " << std::strerror(errno);
    // Back to the host's mount namespace on every way out (a fatal
    // assertion included); the tmpfs goes with the private one.
    struct Leave {
        int ns;
        std::string rt;
        bool left = false;
        bool leave()
        {
            if (left)
                return true;
            left = true;
            umount2(rt.c_str(), MNT_DETACH);
            bool ok = setns(ns, CLONE_NEWNS) == 0;
            close(ns);
            return ok;
        }
        ~Leave() { leave(); }
    } leave{host_ns, rt};
    RunResult fm = proc_run({"findmnt", "-no", "FSTYPE,OPTIONS", rt});
    EXPECT_TRUE(contains(fm.out, "tmpfs ") && contains(fm.out, "nosuid") &&
                contains(fm.out, "nodev") && contains(fm.out, "noexec"))
        << fm.out;

    Share s = share_make("tmpfs-share");
    const Account& viewer = user("viewer");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    const std::string gate = World::get().gate_group();
    const std::string udir = rt + "/" + std::to_string(s.owner->uid);
    RunResult dacl = proc_run({"getfacl", "-cp", udir});
    EXPECT_EQ(dacl.out, "user::rwx\ngroup::---\ngroup:" + gate + ":--x\nmask::--x\nother::---\n\n")
        << dacl.both();
    RunResult sacl = proc_run({"getfacl", "-cp", s.socket});
    EXPECT_TRUE(contains(sacl.out, "group:" + gate + ":rw-\n")) << sacl.both();
    expect_allowed(attach_check(viewer, {s.name}), "view");

    owner_type(s, "echo tmpfs-marker-$((6*7))");
    Outer o = outer_attach(viewer, {s.name});
    EXPECT_TRUE(wait_until([&] { return share_has_client(s, viewer.uid); }))
        << "no guarded attach on the tmpfs\n" << outer_capture(o);
    EXPECT_TRUE(wait_until([&] { return contains(outer_capture(o), "tmpfs-marker-42"); }))
        << outer_capture(o);

    // nr_inodes bounds what one user can create in RUNTIME/UID.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(options, m, std::regex("nr_inodes=(\\d+)")));
    const long limit = std::stol(m[1]);
    const std::string fill_sh = "i=0; while [ $i -lt " + std::to_string(limit + 10) +
                                " ] && true > " + udir +
                                "/f$i 2>/dev/null; do i=$((i+1)); done; echo $i";
    RunResult fill = proc_run_as(s.owner->name, {"sh", "-c", fill_sh});
    ASSERT_EQ(fill.status, 0) << fill.both();
    ASSERT_TRUE(std::regex_match(fill.out, std::regex("\\d+\n"))) << fill.both();
    EXPECT_GT(std::stol(fill.out), limit / 2) << fill.both();
    EXPECT_LT(std::stol(fill.out), limit) << fill.both();
    (void)proc_run_as(s.owner->name, {"find", udir, "-maxdepth", "1", "-name", "f*", "-delete"});

    for (const auto& o2 : outers_)
        (void)proc_run({"tmux", "-L", o2.name, "kill-server"});
    proc_stop(s.server_pid);
    EXPECT_TRUE(leave.leave()) << "setns back to the host's mount namespace: "
                               << std::strerror(errno);
    RunResult host = proc_run({"findmnt", "-no", "FSTYPE", rt});
    EXPECT_EQ(host.out, "") << rt << " is still a mount point in the host's namespace";
}

// 6. reload, sync and reap, run as their units run them: the unit's own
//    ExecStart= (reap's --idle from Environment=/EnvironmentFile=), under
//    the unit's CapabilityBoundingSet= and NoNewPrivileges= (setpriv) in the
//    mount namespace of its ProtectSystem=strict, ReadWritePaths= and
//    PrivateTmp=, each under strace: reload exits 0, sync revokes a user
//    added to the server by hand, reap ends the dormant session, each writes
//    its record; every system call they made is in SystemCallFilter=,
//    every socket family in RestrictAddressFamilies=, and no mapping was
//    writable and executable (MemoryDenyWriteExecute=).
TEST_F(SystemFilesE2E, ReloadSyncReapWorkInsideTheirUnitsSandbox)
{
    Share s = share_make("sandboxed");
    const Account& viewer = user("viewer");
    const Account& typist = user("typist");
    ASSERT_NO_FATAL_FAILURE(policy_write({s.policy_line(), rule_permit("view", viewer.name, s)}));
    Scratch scratch;
    ASSERT_FALSE(scratch.path.empty());

    // The test policy's runtime-dir is PREFIX/run, not the build's default:
    // the drop-in the units' comment asks for then (ReadWritePaths=RUNTIME).
    const std::vector<std::string> dropin_rw = {path_runtime_dir()};
    auto run_unit = [&](const std::string& unit, const std::string& tag,
                        const std::vector<std::string>& extra_rw) {
        const std::string path = unit_dir() + "/" + unit;
        UnitSandbox sb = sandbox_of(path);
        sb.rw_paths.insert(sb.rw_paths.end(), extra_rw.begin(), extra_rw.end());
        sb.test_rw = {scratch.path};
        EXPECT_TRUE(sb.strict && sb.no_new_privs && sb.private_tmp) << unit;
        EXPECT_EQ(sb.proc_options, "hidepid=invisible,subset=pid") << unit;
        const std::string trace = scratch.path + "/" + tag + ".trace";
        RunResult r = sandbox_run(sb, scratch.path, trace);
        TraceFacts t = trace_read(trace, sb.exec.at(0));
        // An allow list always includes @default (systemd adds it).
        std::set<std::string> allowed = syscall_group_expand("@default");
        for (const auto& v : unit_values(path, "SystemCallFilter")) {
            for (const auto& w : words(v)) {
                if (w[0] == '@') {
                    std::set<std::string> g = syscall_group_expand(w);
                    allowed.insert(g.begin(), g.end());
                } else {
                    allowed.insert(w);
                }
            }
        }
        EXPECT_GT(allowed.size(), 100u) << unit << ": no SystemCallFilter=";
        EXPECT_GT(t.calls.size(), 20u) << "no trace of " << unit;
        for (const auto& c : t.calls)
            EXPECT_TRUE(allowed.count(c) == 1) << unit << " calls " << c
                                               << ", not in its SystemCallFilter=";
        std::set<std::string> families;
        for (const auto& v : unit_values(path, "RestrictAddressFamilies"))
            for (const auto& w : words(v))
                families.insert(w);
        for (const auto& f : t.families)
            EXPECT_TRUE(families.count(f) == 1) << unit << " opens an " << f << " socket";
        EXPECT_TRUE(t.wx.empty()) << unit << ": " << (t.wx.empty() ? "" : t.wx[0]);
        return r;
    };

    // Without the drop-in the sandbox is real: RUNTIME/UID cannot be made.
    RunResult r = run_unit("tmuxguard-reload.service", "reload-ro", {});
    EXPECT_EQ(r.status, 3) << r.both();
    EXPECT_TRUE(contains(r.err, "Read-only file system")) << r.both();
    LogMark mark = log_mark();
    r = run_unit("tmuxguard-reload.service", "reload", dropin_rw);
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_TRUE(contains(r.out, "reloaded: 1 shares")) << r.both();
    expect_record(log_wait_record(mark, [](const Record& x) { return x.get("event") == "reload"; }),
                  "allow", "reloaded");

    ASSERT_NO_FATAL_FAILURE(serve(s));
    RunResult add = owner_tmux(s, {"server-access", "-a", "-w", typist.name});
    ASSERT_EQ(add.status, 0) << add.both();
    mark = log_mark();
    r = run_unit("tmuxguard-sync.service", "sync", dropin_rw);
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_TRUE(contains(r.out, "sync " + s.name + ": -" + typist.name + " revoked")) << r.both();
    EXPECT_FALSE(contains(owner_tmux(s, {"server-access", "-l"}).out, typist.name));
    expect_record(log_wait_record(mark, [](const Record& x) { return x.get("event") == "revoke"; }),
                  "deny", "no-rule");

    // reap with the idle time from the unit's EnvironmentFile=.
    std::vector<std::string> envf =
        unit_values(unit_dir() + "/tmuxguard-reap.service", "EnvironmentFile");
    ASSERT_EQ(envf.size(), 1u);
    ASSERT_EQ(envf[0][0], '-') << "the environment file must be optional";
    const std::string env_path = envf[0].substr(1);
    fs::create_directories(dir_of(env_path));
    std::ofstream(env_path) << "# written by the test\nTMUXGUARD_REAP_IDLE=1s\n";
    struct RemoveEnv {
        std::string p;
        ~RemoveEnv() { fs::remove(p); }
    } remove_env{env_path};
    std::this_thread::sleep_for(2500ms);
    mark = log_mark();
    r = run_unit("tmuxguard-reap.service", "reap", {});
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_TRUE(contains(r.out, "reap " + s.name + ": ended session " + s.session)) << r.both();
    expect_record(log_wait_record(mark, [](const Record& x) { return x.get("event") == "reap"; }),
                  "deny", "dormant");
    EXPECT_TRUE(wait_until([&] { return !proc_is_alive(s.server_pid); }));

    // Without the file, the default of Environment= applies (and reaps nothing here).
    fs::remove(env_path);
    UnitSandbox sb = sandbox_of(unit_dir() + "/tmuxguard-reap.service");
    EXPECT_EQ(sb.exec.back(), cache_value("TMUXGUARD_REAP_IDLE_DEFAULT"));
}

// 7. What Type=forking of tmuxguard-serve@.service relies on: its ExecStart=
//    with %i = the instance name (a share name with '-' and '.', which %i
//    keeps and %I would turn into '/'), run as root, returns 0 once the
//    share's server runs; the server has left the ExecStart process tree
//    (its parent is PID 1 or a subreaper above the caller, as systemd's main
//    PID guess needs), and it and the shell in its pane run as the owner.
TEST_F(SystemFilesE2E, ServeUnitsExecStartLeavesTheOwnersDaemonizedServer)
{
    Share s = share_make("unit-serve.x");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    std::vector<std::string> exec = words(
        unit_values(unit_dir() + "/tmuxguard-serve@.service", "ExecStart").at(0));
    ASSERT_EQ(exec.back(), "%i");
    exec.back() = s.name;
    RunResult r = proc_run(exec);
    ASSERT_EQ(r.status, 0) << r.both();
    ASSERT_NO_FATAL_FAILURE(serve(s));  // already served: records the server's pid
    EXPECT_TRUE(contains(r.out, "serving " + s.name + " at " + s.socket)) << r.both();

    std::set<pid_t> above = {1};
    for (pid_t p = getpid(); p > 1; p = proc_parent(p))
        above.insert(p);
    const pid_t parent = proc_parent(s.server_pid);
    EXPECT_TRUE(above.count(parent) == 1 && parent != getpid())
        << "the server's parent " << parent << " is not PID 1 or a subreaper above the test";
    const std::string uid = std::to_string(s.owner->uid);
    EXPECT_EQ(proc_status_fields(s.server_pid, "Uid"), std::vector<std::string>(4, uid));
    RunResult pane =
        owner_tmux(s, {"display-message", "-p", "-t", "=" + s.session + ":", "#{pane_pid}"});
    ASSERT_EQ(pane.status, 0) << pane.both();
    const pid_t shell = static_cast<pid_t>(std::stol(pane.out));
    EXPECT_EQ(proc_parent(shell), s.server_pid);
    EXPECT_EQ(proc_status_fields(shell, "Uid"), std::vector<std::string>(4, uid));
    EXPECT_EQ(proc_status_fields(shell, "CapEff"), std::vector<std::string>{"0000000000000000"});
}

}  // namespace tge2e
