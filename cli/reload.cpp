// tmuxguard reload (root only)
//
//  1. the gate gid is the group of the installed setgid wrapper;
//  2. load and compile the text policy (NSS);
//  3. write the compiled policy atomically (an invalid one too: it denies all);
//  4. ensure the runtime directory and each owner's RUNTIME/UID;
//  5. ensure the decision log file and its head (root:gate 0660);
//  6. sync every share, report, log a "reload" record.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <set>

#include "cli.hpp"
#include "nss.hpp"
#include "runtime_dir.hpp"
#include "tmuxguard/runtime_dir.hpp"
#include "share_ops.hpp"
#include "tmuxguard/log_chain.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/paths.hpp"
#include "tmuxguard/policy.hpp"

namespace tgcli {

namespace {

constexpr const char* kReload = "reload";

// Writes, syncs and publishes the temporary file `tmp` in `dir_fd`.
tg::Result<void> compiled_publish(int dir_fd, int fd, const std::string& tmp,
                                  const std::string& path, const std::string& text)
{
    if (tg::Result<void> w = fd_write_all(fd, text, path); !w)
        return w;
    if (::fsync(fd) != 0 || ::fchmod(fd, 0644) != 0)
        return tg::fail("path-error", errno, path, "fsync/fchmod");
    if (::renameat(dir_fd, tmp.c_str(), dir_fd, path_basename(path).c_str()) != 0)
        return tg::fail("path-error", errno, path, "rename");
    tg::UniqueFd dir_rd(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_rd.valid() || ::fsync(dir_rd.get()) != 0)
        return tg::fail("path-error", errno, path_dirname(path), "fsync directory");
    return {};
}

// Step 3: DIR/.policy.compiled.XXXXXX (mkostemp through the verified
// directory's descriptor), write, fsync, 0644, rename, fsync the directory.
tg::Result<void> compiled_write(const std::string& path, const std::string& text)
{
    tg::Result<tg::UniqueFd> dir = tg::root_dir_ensure(path_dirname(path));
    if (!dir)
        return std::unexpected(dir.error());
    std::string tmpl = tg::fd_proc_path(dir->get()) + "/.policy.compiled.XXXXXX";
    tg::UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd.valid())
        return tg::fail("path-error", errno, path, "cannot create temporary file");
    std::string tmp = path_basename(tmpl);
    tg::Result<void> ok = compiled_publish(dir->get(), fd.get(), tmp, path, text);
    if (!ok)
        ::unlinkat(dir->get(), tmp.c_str(), 0);
    return ok;
}

// Step 4: RUNTIME root:root 0755, then RUNTIME/UID for every owner whose
// share socket lives there. Returns the number of failures (printed).
int runtime_dirs_ensure(const tg::CompiledPolicy& c)
{
    tg::Result<tg::UniqueFd> rt = tg::root_dir_ensure(c.runtime_dir);
    if (!rt) {
        err_line(kReload, "runtime directory: " + rt.error().message());
        return 1;
    }
    std::set<uid_t> owners;
    for (const tg::CompiledShare& s : c.shares) {
        if (share_socket_in_runtime(c, s))
            owners.insert(s.owner_uid);
    }
    int failures = 0;
    for (uid_t uid : owners) {
        std::optional<Account> a = nss_account_by_uid(uid);
        tg::Result<tg::RuntimeDir> d =
            a ? tg::runtime_user_dir_ensure(rt->get(), c.runtime_dir, uid, a->gid, c.gate_gid)
              : tg::Result<tg::RuntimeDir>(tg::fail("no-account", 0, std::to_string(uid), "no account"));
        if (!d) {
            err_line(kReload, "runtime directory of uid " + std::to_string(uid) + ": " +
                                  d.error().message());
            ++failures;
        }
    }
    return failures;
}

// Fixes an existing log file (or its head, `what`) through an O_PATH
// descriptor: regular, one link, root-owned; then group gate, mode 0660
// (the wrapper reads the log's tail to link each record to the last).
tg::Result<void> log_file_fix(int dir_fd, const std::string& name, const std::string& path,
                              gid_t gate, const std::string& what = "the log")
{
    tg::UniqueFd fd(::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
        return tg::fail("log-unavailable", errno, path, "cannot open");
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != 0)
        return tg::fail("log-unavailable", 0, path, "not a root-owned regular file with one link");
    // Adopt only what is already the log or is still empty: a `set log` typo
    // naming some other root file must not hand it to the gate group.
    if (st.st_gid != gate && st.st_size != 0)
        return tg::fail("log-unavailable", 0, path,
                        "exists, is not empty and is not group gate: not adopting it as " + what);
    if (::fchownat(fd.get(), "", 0, gate, AT_EMPTY_PATH) != 0 ||
        ::chmod(tg::fd_proc_path(fd.get()).c_str(), 0660) != 0)
        return tg::fail("log-unavailable", errno, path, "cannot set owner root:gate mode 0660");
    return {};
}

// A new head for the log, computed from the log: made as an unnamed file
// (O_TMPFILE) and linked into place only once it is complete, so no writer
// ever opens a half-written head (and none can write while there is no
// head). Where the file system has no O_TMPFILE, it is created by name
// (O_EXCL) and filled at once.
tg::Result<void> log_head_create(int dir_fd, const std::string& name, const std::string& path,
                                 int log_fd, gid_t gate)
{
    tg::UniqueFd fd(::openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0660));
    const bool unnamed = fd.valid();
    if (!unnamed && (errno == EOPNOTSUPP || errno == EISDIR))
        fd.reset(::openat(dir_fd, name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0660));
    if (!fd.valid())
        return tg::fail("log-unavailable", errno, path, "cannot create");
    if (::fchown(fd.get(), 0, gate) != 0 || ::fchmod(fd.get(), 0660) != 0)
        return tg::fail("log-unavailable", errno, path, "cannot set owner root:gate mode 0660");
    tg::Result<tg::LogHead> head = tg::log_head_compute(log_fd);
    tg::Result<void> wrote = head ? tg::log_head_write(fd.get(), *head)
                                  : tg::Result<void>(std::unexpected(head.error()));
    if (!wrote)
        return tg::fail("log-unavailable", wrote.error().err, path, wrote.error().detail);
    if (unnamed && ::linkat(fd.get(), "", dir_fd, name.c_str(), AT_EMPTY_PATH) != 0 && errno != EEXIST)
        return tg::fail("log-unavailable", errno, path, "cannot link the new head into place");
    if (head->count > 0)
        out_line("decision log: head written for the " + std::to_string(head->count) +
                 " records already in " + path.substr(0, path.size() - std::string_view(".head").size()));
    return {};
}

// An existing head: kept when it is well formed and names the log (it is
// the evidence of a cut at a record boundary), or when the log is empty (it
// carries the chain over from the rotated file); otherwise rewritten from
// the log, with a warning: it was malformed, or the log was replaced.
tg::Result<void> log_head_repair(const std::string& path, int log_fd)
{
    tg::Result<tg::UniqueFd> fd = tg::log_head_open(path);
    if (!fd)
        return std::unexpected(fd.error());
    tg::Result<tg::LogLock> lock = tg::log_lock(fd->get(), LOCK_EX);
    if (!lock)
        return tg::fail("log-unavailable", lock.error().err, path, lock.error().detail);
    tg::Result<tg::LogHead> current = tg::log_head_read(fd->get());
    struct stat st {};
    if (::fstat(log_fd, &st) != 0)
        return tg::fail("log-unavailable", errno, path, "fstat of the log");
    if (current && ((current->dev == st.st_dev && current->ino == st.st_ino) || st.st_size == 0))
        return {};
    tg::Result<tg::LogHead> head = tg::log_head_compute(log_fd);
    tg::Result<void> wrote = head ? tg::log_head_write(fd->get(), *head)
                                  : tg::Result<void>(std::unexpected(head.error()));
    if (!wrote)
        return tg::fail("log-unavailable", wrote.error().err, path, wrote.error().detail);
    err_line(kReload, "warning: decision log: " + path +
                          (current ? " named another file (the log was replaced)"
                                   : " was malformed") +
                          "; rewritten from the log (" + std::to_string(head->count) + " records)");
    return {};
}

// Step 5, the head: LOG.head beside the log, root:gate 0660 (log_chain.hpp).
tg::Result<void> log_head_ensure(int dir_fd, const std::string& log_path, gid_t gate)
{
    const std::string name = path_basename(log_path) + ".head";
    const std::string path = tg::log_head_path(log_path);
    const std::string dir = tg::fd_proc_path(dir_fd) + "/";
    tg::Result<tg::UniqueFd> log = tg::log_open(dir + path_basename(log_path));
    if (!log)
        return tg::fail("log-unavailable", log.error().err, log_path, log.error().detail);
    tg::UniqueFd probe(::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!probe.valid() && errno == ENOENT)
        return log_head_create(dir_fd, name, path, log->get(), gate);
    if (!probe.valid())
        return tg::fail("log-unavailable", errno, path, "cannot open");
    if (tg::Result<void> fixed = log_file_fix(dir_fd, name, path, gate, "the log's head"); !fixed)
        return fixed;
    tg::Result<void> repaired = log_head_repair(dir + name, log->get());
    if (!repaired)
        return tg::fail("log-unavailable", repaired.error().err, path, repaired.error().detail);
    return {};
}

// Step 5: the log's directory root 0755, the file root:gate 0660, its head.
tg::Result<void> log_file_ensure(const std::string& path, gid_t gate)
{
    tg::Result<tg::UniqueFd> dir = tg::root_dir_ensure(path_dirname(path));
    if (!dir)
        return std::unexpected(dir.error());
    std::string name = path_basename(path);
    tg::UniqueFd fd(::openat(dir->get(), name.c_str(),
                             O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0660));
    if (!fd.valid() && errno == EEXIST) {
        if (tg::Result<void> fixed = log_file_fix(dir->get(), name, path, gate); !fixed)
            return fixed;
    } else if (!fd.valid()) {
        return tg::fail("log-unavailable", errno, path, "cannot create");
    } else if (::fchown(fd.get(), 0, gate) != 0 || ::fchmod(fd.get(), 0660) != 0) {
        return tg::fail("log-unavailable", errno, path, "cannot set owner root:gate mode 0660");
    }
    return log_head_ensure(dir->get(), path, gate);
}

// The "reload" decision record.
void reload_log(const tg::CompiledPolicy& c, bool valid)
{
    tg::DecisionRecord r;
    r.event = "reload";
    r.uid = ::getuid();  // who reloaded
    r.allow = valid;
    r.reason = valid ? "reloaded" : "policy-invalid";
    r.mode = "none";
    r.detail = valid ? std::to_string(c.shares.size()) + " shares, " + std::to_string(c.rules.size()) +
                           " rules"
                     : c.invalid;
    cli_log_event(c, r, kReload);
}

// Steps 4 to 6 for a valid policy; the exit status.
int reload_apply(const tg::CompiledPolicy& c)
{
    int failures = runtime_dirs_ensure(c);
    if (tg::Result<void> tmux = tg::check_trusted_file(c.tmux); !tmux) {
        err_line(kReload, "tmux at " + c.tmux + " is not trusted (" + tmux.error().message() +
                              "): every attach will be refused (tmux-unsafe)");
        ++failures;
    }
    if (tg::Result<void> log = log_file_ensure(c.log, c.gate_gid); !log) {
        err_line(kReload, "decision log: " + log.error().message());
        ++failures;
    }
    std::time_t now = std::time(nullptr);
    for (const tg::CompiledShare& s : c.shares) {
        SyncReport rep = sync_share(c, s, now);
        sync_report_print(rep, kReload);
        failures += rep.ok() ? 0 : 1;
    }
    out_line("reloaded: " + std::to_string(c.shares.size()) + " shares, " +
             std::to_string(c.rules.size()) + " rules");
    reload_log(c, true);
    return failures == 0 ? kExitOk : kExitSystem;
}

}  // namespace

// Compiles and publishes the policy, prepares directories, syncs servers.
int cmd_reload(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{});
    if (!a || !a->operands.empty()) {
        err_line(kReload, a ? "usage: tmuxguard reload" : a.error().detail);
        return kExitUsage;
    }
    if (!caller_is_root()) {
        err_line(kReload, "must be run as root");
        return kExitRefused;
    }
    tg::Result<gid_t> gate = tg::gate_gid_of_wrapper(tg::paths::attach_path);
    if (!gate) {
        err_line(kReload, gate.error().detail);
        return kExitSystem;
    }
    tg::Policy p = tg::policy_load(tg::paths::policy_file, tg::paths::policy_dir);
    NssResolver nss;
    tg::CompiledPolicy c = tg::policy_compile(p, nss, *gate);
    std::string text = tg::compiled_serialize(c);
    // The wrapper's reader bisects and skips what it does not need; the full
    // parse here checks every line before anything is published.
    if (tg::Result<tg::CompiledPolicy> back = tg::compiled_parse(text); !back) {
        err_line(kReload, "internal error: the compiled policy does not read back: " +
                              back.error().message());
        return kExitSystem;
    }
    if (tg::Result<void> w = compiled_write(tg::paths::compiled_policy, text); !w) {
        err_line(kReload, "cannot write the compiled policy: " + w.error().message());
        return kExitSystem;
    }
    if (p.valid())
        return reload_apply(c);
    for (const std::string& e : p.errors)
        out_line(e);
    err_line(kReload, "policy invalid: every attach is denied until it is fixed");
    reload_log(c, false);
    return kExitUsage;
}

}  // namespace tgcli
