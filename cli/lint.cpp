// tmuxguard lint [FILE...] [--json]: lints tmux configuration files with
// tg::tmux_lint(), follows source-file into the files it reads, and checks on
// disk who else can change those files and the directories of -S sockets.
// Anyone may run it; it only reads.
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <tuple>

#include "cli.hpp"
#include "nss.hpp"
#include "tmuxguard/acl.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/tmux_lint.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgcli {
namespace {

// source-file nesting followed, counting the file named on the command line as 0.
constexpr int kMaxSourceDepth = 10;
// Files one glob pattern may add.
constexpr std::size_t kMaxGlobMatches = 256;
// Files linted in one run, sourced ones included.
constexpr std::size_t kMaxFiles = 1024;
// Symlinks followed on one path (the kernel's own limit is 40).
constexpr int kMaxSymlinks = 40;
// Path components walked, symlink targets included.
constexpr int kMaxComponents = 256;
// The longest path a message quotes.
constexpr std::size_t kPathShown = 160;

constexpr std::string_view kFixWritable =
    "make the file and every directory above it owned by root or the config's owner and not "
    "writable by anyone else (chmod go-w)";

// One finding, with the file it is in.
struct FileFinding {
    std::string file;
    int line = 0;
    tg::LintSeverity severity = tg::LintSeverity::low;
    std::string code;
    std::string message;
    std::string fix;
};

// Everything one run collects.
struct LintRun {
    std::vector<std::string> files;  // linted, in the order read
    std::vector<FileFinding> findings;
    std::vector<std::string> errors;
    std::set<std::pair<dev_t, ino_t>> seen;  // files already linted (cycles, duplicates)
    tg::LintEnv env;
};

// A path as a message quotes it: at most kPathShown bytes (a source-file
// path is text from the config, and may be long).
std::string path_shown(std::string_view p)
{
    if (p.size() <= kPathShown)
        return std::string(p);
    return std::string(p.substr(0, kPathShown)) + "...";
}

// An account's name, or "uid N".
std::string user_name(uid_t uid)
{
    std::optional<Account> a = nss_account_by_uid(uid);
    return a ? a->name : "uid " + std::to_string(uid);
}

// A group's name, or "gid N".
std::string group_name(gid_t gid)
{
    struct group* g = ::getgrgid(gid);  // the CLI is single-threaded
    return g != nullptr && g->gr_name != nullptr ? std::string(g->gr_name)
                                                 : "gid " + std::to_string(gid);
}

// The members of group `gid` other than root and `trusted` ("a, b, c"), or
// "" when it has none: then the group's write access is nobody else's.
std::string group_others(gid_t gid, uid_t trusted)
{
    std::string out;
    std::size_t n = 0;
    for (const std::string& m : nss_group_members(gid)) {
        std::optional<Account> a = nss_account_by_name(m);
        if (a && (a->uid == 0 || a->uid == trusted))
            continue;
        if (n++ < 3)
            out += (out.empty() ? "" : ", ") + m;
    }
    if (n > 3)
        out += ", ...";
    return out;
}

// Who besides root and `trusted` can change the inode behind `fd`: its
// owner, the members of a group with write access (the owning group and
// named ACL groups, the ACL mask applied), named ACL users, everyone with
// other-write. "" when nobody else can. A sticky directory (/tmp) is judged
// by its owner only: others can add entries but not replace ours, and the
// caller checks the next entry.
std::string writers_describe(int fd, const struct stat& st, uid_t trusted)
{
    if (st.st_uid != 0 && st.st_uid != trusted)
        return "owned by " + user_name(st.st_uid);
    if (S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) != 0)
        return {};
    if ((st.st_mode & S_IWOTH) != 0)
        return "writable by everyone";
    tg::Result<std::vector<tg::AclEntry>> acl = tg::acl_read_fd(fd);
    if (!acl) {  // unreadable ACL: the group bits are the mask, assume the worst
        if ((st.st_mode & S_IWGRP) != 0)
            return "writable by group " + group_name(st.st_gid) + " or its ACL entries";
        return {};
    }
    std::uint8_t mask = 7;
    for (const tg::AclEntry& e : *acl) {
        if (e.tag == tg::AclTag::mask)
            mask = e.perms;
    }
    for (const tg::AclEntry& e : *acl) {
        const bool writes = (e.perms & mask & 2U) != 0;
        if (!writes)
            continue;
        if (e.tag == tg::AclTag::user && e.id != 0 && e.id != trusted)
            return "writable by user " + user_name(e.id) + " (ACL)";
        if (e.tag == tg::AclTag::group_obj || e.tag == tg::AclTag::group) {
            gid_t gid = e.tag == tg::AclTag::group ? e.id : st.st_gid;
            std::string others = group_others(gid, trusted);
            if (!others.empty())
                return "writable by group " + group_name(gid) + " (" + others + ")";
        }
    }
    return {};
}

// `st` without the sticky bit: whether others may add entries at all.
struct stat sticky_ignored(struct stat st)
{
    st.st_mode &= ~static_cast<mode_t>(S_ISVTX);
    return st;
}

// What a walk found.
struct Walked {
    tg::UniqueFd fd;  // O_PATH descriptor of the final object, when it exists
    struct stat st {};
    bool missing = false;
    std::string problem;  // "" or "OBJECT is/was WHY": someone else can change it
    std::optional<std::string> error;  // the walk could not be done
};

// Contract of path_follow() (STYLE.md 3):
//  1. it walks from "/" one component at a time with
//     openat(O_PATH|O_NOFOLLOW|O_CLOEXEC) and judges the object it opened by
//     fstat of that descriptor, never by a path;
//  2. every directory on the way must be owned by root or `trusted` and
//     writable by nobody else (writers_describe: mode, ACL, group members);
//     a sticky directory others may write is accepted, but a missing entry
//     in it is a problem (anyone could create it);
//  3. a symlink is followed only when root or `trusted` owns it (at most
//     kMaxSymlinks); any other symlink is the problem itself and is not
//     followed, so nothing behind it is judged or read;
//  4. the final object must be a directory when `want_dir`, else a regular
//     file; it is judged like the directories (owner, writers);
//  5. the first problem found is kept; the walk goes on to the object so
//     that it can still be read.
Walked path_follow(const std::string& path, uid_t trusted, bool want_dir)
{
    Walked w;
    std::vector<std::string> todo;  // components still to walk, last first
    auto push_path = [&todo](std::string_view p) {
        std::vector<std::string> parts;
        std::size_t start = 0;
        while (start <= p.size()) {
            std::size_t slash = p.find('/', start);
            std::size_t end = slash == std::string_view::npos ? p.size() : slash;
            if (end > start)
                parts.emplace_back(p.substr(start, end - start));
            start = end + 1;
        }
        todo.insert(todo.end(), parts.rbegin(), parts.rend());
    };
    std::vector<tg::UniqueFd> dirs;  // the walked directories, "/" first
    std::vector<std::string> names;  // their paths
    std::vector<bool> open;          // whether others may add entries to them
    dirs.emplace_back(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    names.emplace_back("/");
    open.push_back(false);
    if (!dirs.back().valid()) {
        w.error = std::string("cannot open /: ") + std::strerror(errno);
        return w;
    }
    push_path(path);
    int symlinks = 0;
    for (int steps = 0; !todo.empty(); ++steps) {
        if (steps > kMaxComponents) {
            w.error = path_shown(path) + ": too many path components or symlinks";
            return w;
        }
        std::string name = std::move(todo.back());
        todo.pop_back();
        if (name == ".")
            continue;
        if (name == "..") {
            if (dirs.size() > 1) {
                dirs.pop_back();
                names.pop_back();
                open.pop_back();
            }
            continue;
        }
        const std::string here = (names.back() == "/" ? "/" : names.back() + "/") + name;
        tg::UniqueFd fd(::openat(dirs.back().get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid()) {
            if (errno == ENOENT) {
                w.missing = true;
                if (open.back() && w.problem.empty())
                    w.problem = path_shown(here) + " is missing and " +
                                path_shown(names.back()) + " lets others create it";
                return w;
            }
            w.error = path_shown(here) + ": " + std::strerror(errno);
            return w;
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) {
            w.error = path_shown(here) + ": " + std::strerror(errno);
            return w;
        }
        if (S_ISLNK(st.st_mode)) {
            if (st.st_uid != 0 && st.st_uid != trusted) {
                if (w.problem.empty())
                    w.problem = path_shown(here) + " is a symlink owned by " +
                                user_name(st.st_uid) + " (not followed)";
                return w;
            }
            if (++symlinks > kMaxSymlinks) {
                w.error = path_shown(here) + ": too many symlinks";
                return w;
            }
            char target[PATH_MAX];
            ssize_t n = ::readlinkat(fd.get(), "", target, sizeof target - 1);
            if (n <= 0) {
                w.error = path_shown(here) + ": cannot read the symlink: " + std::strerror(errno);
                return w;
            }
            std::string_view t(target, static_cast<std::size_t>(n));
            if (t.starts_with('/')) {
                dirs.resize(1);
                names.resize(1);
                open.resize(1);
            }
            push_path(t);
            continue;
        }
        const bool last = todo.empty();
        if (!S_ISDIR(st.st_mode) && !last) {
            w.error = path_shown(here) + ": " + std::strerror(ENOTDIR);
            return w;
        }
        std::string who = writers_describe(fd.get(), st, trusted);
        if (!who.empty() && w.problem.empty())
            w.problem = path_shown(here) + " is " + who;
        if (last) {
            if (want_dir != S_ISDIR(st.st_mode) || (!want_dir && !S_ISREG(st.st_mode))) {
                w.error = path_shown(here) + ": not a " +
                          std::string(want_dir ? "directory" : "regular file");
                return w;
            }
            w.fd = std::move(fd);
            w.st = st;
            return w;
        }
        open.push_back(!writers_describe(fd.get(), sticky_ignored(st), trusted).empty());
        dirs.push_back(std::move(fd));
        names.push_back(here);
    }
    // The path ended at a directory already walked ("/", "d/.."): judged on the way.
    if (!want_dir || ::fstat(dirs.back().get(), &w.st) != 0) {
        w.error =
            path_shown(path) + ": not a " + std::string(want_dir ? "directory" : "regular file");
        return w;
    }
    w.fd = std::move(dirs.back());
    return w;
}

// Reads a judged regular file through its O_PATH descriptor (clause 5 of
// the walk: the very inode judged, opened O_NONBLOCK, so never a FIFO or a
// device), at most tg::kLintMaxBytes.
tg::Result<std::string> file_read_judged(const Walked& w, const std::string& path)
{
    tg::UniqueFd fd(::open(tg::fd_proc_path(w.fd.get()).c_str(),
                           O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid())
        return tg::fail("path-error", errno, path, "cannot read");
    if (::fstat(fd.get(), &st) != 0 || st.st_dev != w.st.st_dev || st.st_ino != w.st.st_ino ||
        !S_ISREG(st.st_mode))
        return tg::fail("path-error", 0, path, "changed while it was being read");
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tg::fail("path-error", errno, path, "cannot read");
        if (n == 0)
            return out;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > tg::kLintMaxBytes)
            return tg::fail("lint-too-large", 0, path,
                            "larger than " + std::to_string(tg::kLintMaxBytes >> 10U) +
                                " KiB, not linted");
    }
}

// Records a finding of `file`; printed after every file is linted, sorted.
void finding_add(LintRun& run, const std::string& file, int line, tg::LintSeverity sev,
                 std::string code, std::string message, std::string_view fix)
{
    run.findings.push_back(
        FileFinding{file, line, sev, std::move(code), std::move(message), std::string(fix)});
}

void walked_lint(LintRun& run, const std::string& shown, Walked w, uid_t trusted, int depth);

// The files a source-file pattern names: glob(3) as tmux 3.3a does for a
// pattern, the path itself otherwise.
std::vector<std::string> source_expand(const std::string& pattern, bool& truncated)
{
    truncated = false;
    if (pattern.find_first_of("*?[") == std::string::npos)
        return {pattern};
    glob_t g{};
    std::vector<std::string> out;
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) {
            if (out.size() == kMaxGlobMatches) {
                truncated = true;
                break;
            }
            out.emplace_back(g.gl_pathv[i]);
        }
    }
    ::globfree(&g);
    return out;
}

// A source-file reference: each file it names is judged (a finding on the
// sourcing line when someone else can change it) and linted in turn; a
// pattern that matches nothing is judged by its directory.
void source_ref_check(LintRun& run, const std::string& from, const tg::LintRef& ref,
                      uid_t trusted, int depth)
{
    bool truncated = false;
    std::vector<std::string> files = source_expand(ref.path, truncated);
    if (truncated)
        run.errors.push_back(from + ":" + std::to_string(ref.line) + ": source-file " +
                             path_shown(ref.path) +
                             " matches more than " + std::to_string(kMaxGlobMatches) +
                             " files; the rest are not linted");
    auto report = [&](const std::string& problem) {
        finding_add(run, from, ref.line, tg::LintSeverity::high, "source-file-writable",
                    "source-file " + path_shown(ref.path) + " can be changed by others: " + problem,
                    kFixWritable);
    };
    if (files.empty()) {
        const std::string dir = path_dirname(ref.path);
        if (dir.find_first_of("*?[") != std::string::npos)
            return;
        Walked w = path_follow(dir, trusted, true);
        std::string open;
        if (w.fd.valid())
            open = writers_describe(w.fd.get(), sticky_ignored(w.st), trusted);
        if (!w.problem.empty())
            report(w.problem);
        else if (!open.empty())
            report("it matches no file yet, and " + path_shown(dir) + " is " + open);
        return;
    }
    for (const std::string& f : files) {
        Walked w = path_follow(f, trusted, false);
        if (!w.problem.empty())
            report(w.problem);
        if (w.error)
            run.errors.push_back(*w.error);
        if (w.missing || !w.fd.valid())
            continue;  // tmux reports a missing file itself (or -q ignores it)
        if (depth + 1 > kMaxSourceDepth) {
            run.errors.push_back(f + ": source-file nested deeper than " +
                                 std::to_string(kMaxSourceDepth) + " levels, not linted");
            continue;
        }
        walked_lint(run, f, std::move(w), trusted, depth + 1);
    }
}

// A -S socket reference: the directory that holds (or would hold) the
// socket must be writable by nobody but root and the config's owner.
void socket_ref_check(LintRun& run, const std::string& from, const tg::LintRef& ref, uid_t trusted)
{
    const std::string dir = path_dirname(ref.path);
    Walked w = path_follow(dir, trusted, true);
    std::string problem = w.problem;
    if (w.error && !w.missing)
        run.errors.push_back(*w.error);
    if (problem.empty() && w.fd.valid()) {
        if (std::string who = writers_describe(w.fd.get(), sticky_ignored(w.st), trusted);
            !who.empty())
            problem = path_shown(dir) + " is " + who;
    }
    if (problem.empty())
        return;
    finding_add(run, from, ref.line, tg::LintSeverity::medium, "socket-dir-writable",
                "-S socket " + path_shown(ref.path) + " is in a directory others can change: " +
                    problem,
                "keep tmux sockets in a private directory (0700, yours), e.g. $TMUX_TMPDIR");
}

// Lints a file found by path_follow(), then everything it references;
// `shown` is its name in the output.
void walked_lint(LintRun& run, const std::string& shown, Walked w, uid_t trusted, int depth)
{
    if (run.files.size() >= kMaxFiles) {
        run.errors.push_back(shown + ": more than " + std::to_string(kMaxFiles) +
                             " files, not linted");
        return;
    }
    if (!run.seen.emplace(w.st.st_dev, w.st.st_ino).second)
        return;  // already linted (a cycle, or the same file twice)
    tg::Result<std::string> text = file_read_judged(w, shown);
    if (!text) {
        const tg::Error& e = text.error();
        run.errors.push_back(e.subject + ": " + e.detail +
                             (e.err != 0 ? std::string(": ") + std::strerror(e.err) : ""));
        return;
    }
    run.files.push_back(shown);
    tg::Result<tg::LintReport> report = tg::tmux_lint(*text, run.env);
    if (!report) {
        run.errors.push_back(shown + ": " + report.error().detail);
        return;
    }
    for (const tg::LintFinding& f : report->findings)
        finding_add(run, shown, f.line, f.severity, f.code, f.message, f.fix);
    for (const tg::LintRef& ref : report->refs) {
        if (ref.kind == tg::LintRefKind::source_file)
            source_ref_check(run, shown, ref, trusted, depth);
        else
            socket_ref_check(run, shown, ref, trusted);
    }
}

// A file named on the command line (`named`) or a default one (skipped
// when missing): judged (config-writable at line 0), then linted.
void top_file_lint(LintRun& run, const std::string& shown, const std::string& path, uid_t trusted,
                   bool named)
{
    Walked w = path_follow(path, trusted, false);
    if (w.missing && !named)
        return;
    if (!w.problem.empty())
        finding_add(run, shown, 0, tg::LintSeverity::high, "config-writable",
                    "this file can be changed by others: " + w.problem, kFixWritable);
    if (w.missing)
        run.errors.push_back(shown + ": no such file");
    else if (w.error)
        run.errors.push_back(*w.error);  // names the path where the walk stopped
    else
        walked_lint(run, shown, std::move(w), trusted, 0);
}

// The caller's home as tmux finds it: $HOME, else the passwd entry.
std::string caller_home()
{
    if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0')
        return h;
    std::optional<Account> a = nss_account_by_uid(::getuid());
    return a ? a->home : std::string();
}

// What tmux 3.3a reads without -f: /etc/tmux.conf, ~/.tmux.conf,
// $XDG_CONFIG_HOME/tmux/tmux.conf, ~/.config/tmux/tmux.conf; every one
// that exists. Returns (path, trusted user): the system file must be
// root's alone, the caller's files root's or the caller's.
std::vector<std::pair<std::string, uid_t>> default_files()
{
    std::vector<std::pair<std::string, uid_t>> out{{"/etc/tmux.conf", 0}};
    const std::string home = caller_home();
    const uid_t me = ::getuid();
    if (!home.empty() && home[0] == '/')
        out.emplace_back(home + "/.tmux.conf", me);
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && x[0] == '/')
        out.emplace_back(std::string(x) + "/tmux/tmux.conf", me);
    if (!home.empty() && home[0] == '/')
        out.emplace_back(home + "/.config/tmux/tmux.conf", me);
    return out;
}

// A named file is judged as its owner's configuration: root and the owner
// of the path as named (a symlink's own owner) may write it.
uid_t named_file_owner(const std::string& path)
{
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 ? st.st_uid : 0;
}

// `path` made absolute against the current directory.
std::string path_absolute(const std::string& path)
{
    if (path.starts_with('/'))
        return path;
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr)
        return path;
    return std::string(cwd) + "/" + path;
}

// The environment tmux would expand $NAME and ~ from: the caller's own.
tg::LintEnv lint_env_make()
{
    tg::LintEnv env;
    const std::string home = caller_home();
    env.variable = [home](std::string_view name) -> std::optional<std::string> {
        if (name == "HOME" && !home.empty())
            return home;
        const char* v = std::getenv(std::string(name).c_str());
        return v == nullptr ? std::nullopt : std::optional<std::string>(v);
    };
    env.user_home = [](std::string_view user) -> std::optional<std::string> {
        std::optional<Account> a = nss_account_by_name(std::string(user));
        return a ? std::optional<std::string>(a->home) : std::nullopt;
    };
    return env;
}

// By file, then line, then code.
void findings_sort(std::vector<FileFinding>& v)
{
    std::stable_sort(v.begin(), v.end(), [](const FileFinding& a, const FileFinding& b) {
        return std::tie(a.file, a.line, a.code) < std::tie(b.file, b.line, b.code);
    });
}

// {"files":[...],"findings":[{...}],"errors":[...]} on one line.
void json_print(const LintRun& run)
{
    std::string out = "{\"files\":" + json_string_array(run.files) + ",\"findings\":[";
    for (std::size_t i = 0; i < run.findings.size(); ++i) {
        const FileFinding& f = run.findings[i];
        out += (i == 0 ? "" : ",");
        out += "{\"file\":" + json_quote(f.file) + ",\"line\":" + std::to_string(f.line) +
               ",\"severity\":" + json_quote(tg::lint_severity_name(f.severity)) +
               ",\"code\":" + json_quote(f.code) + ",\"message\":" + json_quote(f.message) +
               ",\"fix\":" + json_quote(f.fix) + "}";
    }
    out += "],\"errors\":" + json_string_array(run.errors) + "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
}

// FILE:LINE: SEVERITY: MESSAGE (fix: FIX), every byte through text_safe().
void human_print(const LintRun& run)
{
    for (const FileFinding& f : run.findings)
        out_line(f.file + ":" + std::to_string(f.line) + ": " +
                 std::string(tg::lint_severity_name(f.severity)) + ": " + f.message +
                 " (fix: " + f.fix + ")");
    for (const std::string& e : run.errors)
        err_line("lint", e);
}

}  // namespace

// Lints the named files (or the defaults), prints, and exits 1 on any
// finding, 3 when a file could not be linted, 0 otherwise.
int cmd_lint(const std::vector<std::string>& argv)
{
    tg::Result<Args> args = args_parse(argv, {.json = true});
    if (!args) {
        err_line("lint", args.error().detail);
        return kExitUsage;
    }
    LintRun run;
    run.env = lint_env_make();
    if (args->operands.empty()) {
        for (const auto& [path, trusted] : default_files())
            top_file_lint(run, path, path, trusted, false);
    } else {
        for (const std::string& op : args->operands) {
            const std::string path = path_absolute(op);
            top_file_lint(run, op, path, named_file_owner(path), true);
        }
    }
    findings_sort(run.findings);
    if (args->json)
        json_print(run);
    else
        human_print(run);
    if (!run.errors.empty())
        return kExitSystem;
    return run.findings.empty() ? kExitOk : kExitRefused;
}

}  // namespace tgcli
