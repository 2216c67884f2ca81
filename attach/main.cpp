// tmuxguard-attach: the setgid gate to other people's tmux servers.
//
// Installed static-pie, setgid to the gate group. Its main() reads as the
// numbered steps of BRIEF.md ("The wrapper, step by step"); every function
// below is one of those steps. Every failure is a denial with a logged
// reason; nothing here ever turns an error into an allow.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/attach_args.hpp"
#include "tmuxguard/compiled.hpp"
#include "tmuxguard/confine.hpp"
#include "tmuxguard/decide.hpp"
#include "tmuxguard/decision_log.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/paths.hpp"
#include "tmuxguard/peer.hpp"
#include "tmuxguard/relay.hpp"
#include "tmuxguard/unique_fd.hpp"

extern char** environ;

namespace {

// Exit statuses of the interface contract.
enum Exit : int { kAttached = 0, kDenied = 1, kUsage = 2, kSystem = 3 };

constexpr std::size_t kMaxPolicyBytes = 64u << 20;

// Everything one attempt learns on its way, written as one record at the end.
struct Attempt {
    tg::DecisionRecord record;
    std::optional<tg::CompiledPolicy> policy;
    std::vector<std::string> kept_env;  // TERM/LANG/LC_* as the caller had them
    tg::Caller caller;
    tg::AttachArgs args;
    tg::UniqueFd tmux_fd;  // the checked tmux binary, exec'd by descriptor
    tg::LogFiles log;      // kept after the allow record: the relay logs how it ended
    tg::PtyPair pty;       // the client's terminal (step 10)
};

// Which exit status a denial reason maps to.
int reason_exit_status(std::string_view reason)
{
    if (reason == "usage" || reason == "policy-invalid" || reason == "policy-unsafe" ||
        reason == "policy-missing")
        return kUsage;
    if (reason == "log-unavailable" || reason == "exec-failed" || reason == "internal-error" ||
        reason == "tmux-unsafe" || reason == "confine-failed" || reason == "pty-failed")
        return kSystem;
    return kDenied;
}

void stderr_line(const std::string& line)
{
    std::string out = line + "\n";
    (void)!::write(STDERR_FILENO, out.data(), out.size());
}

// Step 1: descriptors 0-2 valid, everything from 3 up closed.
void process_fds_sanitize()
{
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int null = ::open("/dev/null", O_RDWR);
        if (null != fd)
            std::_Exit(kSystem);  // cannot even make stdio safe: stop, grant nothing
    }
    if (::close_range(3, ~0U, 0) != 0)
        std::_Exit(kSystem);
}

// Step 1: default dispositions, empty mask, umask 077, no core, not dumpable.
void process_state_reset()
{
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)::sigaction(sig, &dfl, nullptr);  // EINVAL for RT signals libc keeps is fine
    // A file-size limit must turn into a failed (refused) log write, not a kill.
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    (void)::sigaction(SIGXFSZ, &ign, nullptr);
    sigset_t none;
    sigemptyset(&none);
    (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::umask(077);
    struct rlimit zero {0, 0};
    if (::setrlimit(RLIMIT_CORE, &zero) != 0 || ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        std::_Exit(kSystem);
    // A file-size limit could let the kernel cut a record; raise it as far as
    // we may. A finite hard limit makes log_write() refuse (no record, no access).
    struct rlimit fsize {};
    if (::getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != fsize.rlim_max) {
        fsize.rlim_cur = fsize.rlim_max;
        (void)::setrlimit(RLIMIT_FSIZE, &fsize);
    }
}

// Step 2: keep only the candidates for TERM/LANG/LC_* (validated later by
// attach_env_build) and empty the process environment at once, so no libc
// call from here on sees the caller's TZ, LOCPATH, GCONV_PATH, ...
std::vector<std::string> process_env_take()
{
    std::vector<std::string> kept;
    for (char** e = environ; e != nullptr && *e != nullptr && kept.size() < 16; ++e) {
        std::string_view v(*e);
        if (v.starts_with("TERM=") || v.starts_with("LANG=") || v.starts_with("LC_"))
            kept.emplace_back(v.substr(0, 256));
    }
    static char* empty_env[] = {nullptr};
    environ = empty_env;
    return kept;
}

// Step 3: who is calling, from the kernel alone (no NSS).
tg::Caller caller_from_kernel()
{
    tg::Caller c;
    c.uid = ::getuid();
    c.gid = ::getgid();
    int n = ::getgroups(0, nullptr);
    if (n > 0) {
        c.groups.resize(static_cast<std::size_t>(n));
        n = ::getgroups(n, c.groups.data());
    }
    if (n < 0)
        std::_Exit(kSystem);
    c.groups.resize(static_cast<std::size_t>(n));
    return c;
}

// Step 5: the compiled policy, through a trusted path, then its sources.
tg::Result<tg::CompiledPolicy> policy_open(const std::string& share, uid_t uid)
{
    auto fd = tg::open_trusted_file(tg::paths::compiled_policy);
    if (!fd) {
        std::string reason = fd.error().reason == "path-missing" ? "policy-missing" : "policy-unsafe";
        return tg::fail(reason, fd.error().err, tg::paths::compiled_policy, fd.error().message());
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || st.st_size <= 0 ||
        static_cast<std::size_t>(st.st_size) > kMaxPolicyBytes)
        return tg::fail("policy-invalid", errno, tg::paths::compiled_policy, "empty or too large");
    // Mapped, not read: the filtered parse touches only the pages it bisects.
    // `reload` replaces the file by rename, never rewrites it in place.
    auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd->get(), 0);
    if (map == MAP_FAILED)
        return tg::fail("policy-invalid", errno, tg::paths::compiled_policy, "cannot map");
    auto policy = tg::compiled_parse(std::string_view(static_cast<const char*>(map), size),
                                     std::string_view(share), uid);
    ::munmap(map, size);
    if (!policy)
        return tg::fail("policy-invalid", 0, tg::paths::compiled_policy, policy.error().message());
    for (const auto& source : policy->files)
        if (auto ok = tg::check_trusted_file(source); !ok)
            return tg::fail("policy-unsafe", ok.error().err, source, ok.error().message());
    return policy;
}

// Writes the attempt's record, linked into the log's hash chain, and the
// syslog line carrying the record's hash. An unwritable record is itself a
// refusal: no log, no access.
tg::Result<void> record_write(Attempt& a)
{
    std::string log = a.policy ? a.policy->log : tg::paths::default_log;
    bool use_syslog = !a.policy || a.policy->syslog;
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    if (!a.log.valid()) {
        auto files = tg::log_files_open(log);
        if (!files)
            return std::unexpected(files.error());
        a.log = std::move(*files);
    }
    auto hash = tg::log_append(a.log, a.record, now);
    if (!hash)
        return std::unexpected(hash.error());  // the caller's denial goes to syslog, once
    if (use_syslog)
        tg::log_syslog(a.record, *hash);
    return {};
}

// Every refusal ends here: one record, one line on stderr, the mapped
// status. When the record cannot be written, the refusal stands as it is
// and syslog gets the record with the log failure added.
[[noreturn]] void attempt_deny(Attempt& a, const std::string& reason, const std::string& detail = {})
{
    a.record.allow = false;
    a.record.reason = reason;
    if (!detail.empty() && a.record.detail.empty())
        a.record.detail = detail;
    if (!a.policy && reason == "usage")  // log settings even when argv was bad
        if (auto p = policy_open("", a.caller.uid))
            a.policy = std::move(*p);
    if (auto ok = record_write(a); !ok) {
        a.record.detail += (a.record.detail.empty() ? "" : "; ") + std::string("decision log: ") +
                           ok.error().message();
        tg::log_syslog(a.record);
    }
    // Exactly one line, usage errors included (the contract); the detail
    // of a usage error is in the record. See tmuxguard-attach(1) for the grammar.
    stderr_line("tmuxguard: denied: " + reason);
    std::_Exit(reason_exit_status(reason));
}

// Step 7 and 8: the socket as checked by descriptor, and who listens on it.
tg::UniqueFd share_socket_verify(Attempt& a)
{
    const tg::CompiledShare* share = a.policy->find_share(a.args.share);
    if (share == nullptr)  // allowed by a `*` rule but not defined: like a missing socket
        attempt_deny(a, "socket-missing", "share is not defined");
    a.record.owner_uid = share->owner_uid;
    a.record.socket = share->socket;
    auto fd = tg::socket_open_verified(share->socket, share->owner_uid, a.policy->gate_gid);
    if (!fd)
        attempt_deny(a, fd.error().reason, fd.error().message());
    auto peer = tg::peer_verify(fd->get(), share->owner_uid);
    if (!peer)
        attempt_deny(a, peer.error().reason, peer.error().message());
    a.record.server_pid = peer->pid;
    auto tmux = tg::open_trusted_file(a.policy->tmux);  // root-owned, exec'd by this descriptor
    if (!tmux)
        attempt_deny(a, "tmux-unsafe", tmux.error().message());
    a.tmux_fd = std::move(*tmux);
    return std::move(*fd);
}

// Step 10, the child: a monitor on the pty (relay.hpp) whose own child is
// the tmux client: the fixed command line, the rebuilt environment, a
// neutral directory; the socket descriptor is the one inherited, the binary
// the one checked, and the filter of confine.hpp is already in place.
[[noreturn]] void tmux_exec(Attempt& a, tg::UniqueFd socket_fd)
{
    const tg::AccountInfo* acct = a.policy->find_user(a.caller.uid);
    std::string uid_text = std::to_string(a.caller.uid);
    std::vector<const char*> old_env;
    for (const auto& e : a.kept_env)
        old_env.push_back(e.c_str());
    old_env.push_back(nullptr);
    auto env = tg::attach_env_build(old_env.data(), acct ? acct->name : uid_text,
                                    acct ? acct->home : "/", acct ? acct->shell : "/bin/sh");
    auto argv = tg::attach_tmux_argv(a.policy->tmux, socket_fd.get(), a.record.session, a.args.readonly);
    std::vector<char*> argv_c, env_c;
    for (auto& s : argv)
        argv_c.push_back(s.data());
    argv_c.push_back(nullptr);
    for (auto& s : env)
        env_c.push_back(s.data());
    env_c.push_back(nullptr);
    const int fd = socket_fd.release();
    const int tmux = a.tmux_fd.release();
    a.pty.master.reset();
    a.log.reset();
    tg::pty_monitor_run(a.pty.slave.release(), [&] {
        if (::chdir("/") != 0 || ::fcntl(fd, F_SETFD, 0) != 0) {
            stderr_line("tmuxguard: cannot prepare tmux: " + std::string(std::strerror(errno)));
            std::_Exit(kSystem);
        }
        tg::confine_exec_fd(tmux, argv_c.data(), env_c.data());
        int err = errno;
        a.record.allow = false;
        a.record.reason = "exec-failed";
        a.record.detail = std::string(std::strerror(err));
        tg::log_syslog(a.record);
        stderr_line("tmuxguard: cannot run " + a.policy->tmux + ": " + std::strerror(err));
        std::_Exit(kSystem);
    });
}

// Step 10, the parent: holds the guest's terminal, so it gives up the gate
// for good first, then relays until the client ends. tmux says "access not
// allowed" and exits 0 when its own list refuses the guest: that becomes a
// logged denial.
[[noreturn]] void relay_until_end(Attempt& a, pid_t child)
{
    a.pty.slave.reset();
    if (auto dropped = tg::gate_drop_for_good(); !dropped) {
        ::kill(child, SIGKILL);
        stderr_line("tmuxguard: " + dropped.error().message());
        std::_Exit(kSystem);
    }
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    (void)::sigaction(SIGPIPE, &ign, nullptr);  // a closed stdout ends the relay, not the process
    auto end = tg::relay_run(STDIN_FILENO, STDOUT_FILENO, a.pty.master.get(), child);
    a.pty.master.reset();  // the server's copy of the slave is hung up from here on
    if (!end) {
        stderr_line("tmuxguard: relay: " + end.error().message());
        std::_Exit(kSystem);
    }
    if (end->server_refused) {
        a.record.allow = false;
        a.record.reason = "server-refused";
        a.record.detail = "the server's own access list refused the client";
        if (auto ok = record_write(a); !ok)
            tg::log_syslog(a.record);
        stderr_line("tmuxguard: denied: server-refused");
        std::_Exit(kDenied);
    }
    if (end->signal != 0)
        std::_Exit(128 + end->signal);
    if (end->status != 0) {
        // tmux failed (a session that vanished, a blocked detach-client -E):
        // not a denial, and not a normal end.
        stderr_line("tmuxguard: tmux ended with status " + std::to_string(end->status));
        std::_Exit(kSystem);
    }
    std::_Exit(kAttached);
}

// Step 10: the client runs on a fresh pty in a child; this process relays.
[[noreturn]] void attach_run(Attempt& a, tg::UniqueFd socket_fd)
{
    sigset_t relayed = tg::relay_signals();
    if (::sigprocmask(SIG_BLOCK, &relayed, nullptr) != 0) {
        stderr_line("tmuxguard: cannot block signals");
        std::_Exit(kSystem);
    }
    pid_t child = ::fork();
    if (child < 0) {
        stderr_line("tmuxguard: fork: " + std::string(std::strerror(errno)));
        std::_Exit(kSystem);
    }
    if (child == 0)
        tmux_exec(a, std::move(socket_fd));
    socket_fd.reset();
    a.tmux_fd.reset();
    relay_until_end(a, child);
}

}  // namespace

// The steps of BRIEF.md, in order; every exit from here is a decision.
static int attempt_run(int argc, char** argv)
{
    Attempt a;
    a.record.pid = ::getpid();

    // 1. Refuse an empty argv; sane descriptors, signals, umask, no core.
    process_fds_sanitize();
    process_state_reset();

    // 2. A fresh environment: nothing of the caller's reaches libc or tmux.
    a.kept_env = process_env_take();

    // 3. Caller identity from the kernel.
    a.caller = caller_from_kernel();
    a.record.uid = a.caller.uid;
    char tty[64] = "";
    if (::ttyname_r(STDIN_FILENO, tty, sizeof tty) == 0)
        a.record.tty = tty;
    if (argc < 1 || argv == nullptr || argv[0] == nullptr)
        attempt_deny(a, "usage", "empty argument vector");

    // 4. The fixed grammar.
    auto args = tg::attach_args_parse(argc, argv);
    if (!args)
        attempt_deny(a, "usage", args.error().detail);
    a.args = *args;
    a.record.event = a.args.dry_run ? "check" : "attach";
    a.record.share = a.args.share;
    a.record.session = a.args.session.empty() ? tg::name_default_session(a.args.share) : a.args.session;

    // 5. The compiled policy through a secure path; we must be its gate.
    auto policy = policy_open(a.args.share, a.caller.uid);
    if (!policy)
        attempt_deny(a, policy.error().reason, policy.error().message());
    a.policy = std::move(*policy);
    if (!a.policy->invalid.empty())
        attempt_deny(a, "policy-invalid", a.policy->invalid);
    if (::getegid() != a.policy->gate_gid)
        attempt_deny(a, "gate-mismatch", "not running with the gate group");

    // 6. Decide: default deny, deny wins, -r only lowers.
    tg::Mode wanted = a.args.readonly ? tg::Mode::view : tg::Mode::interact;
    tg::Decision d = tg::decide(*a.policy, a.caller, a.args.share, wanted, std::time(nullptr));
    a.record.mode = std::string(tg::mode_name(d.verdict == tg::Verdict::allow ? d.mode : wanted));
    if (d.rule != nullptr)
        a.record.rule = a.policy->rule_source(*d.rule);
    else if (d.reason == "owner")
        a.record.rule = "owner";
    if (d.verdict != tg::Verdict::allow)
        attempt_deny(a, d.reason);
    a.args.readonly = d.mode == tg::Mode::view;

    // 7-8. The socket, its directories and ACL, and the server behind it.
    tg::UniqueFd socket_fd = share_socket_verify(a);

    // 9. The decision record; no record, no access. A real attach gets its
    //    pty and is confined first (step 10's filter, inherited by the
    //    client and the relay), so a filter that does not load is a logged
    //    denial rather than an allow that never happened.
    if (!a.args.dry_run) {
        auto pty = tg::pty_open(STDIN_FILENO);
        if (!pty)
            attempt_deny(a, "pty-failed", pty.error().message());
        a.pty = std::move(*pty);
        // The log and its head are opened before the filter forbids opening
        // for writing; flock, pread, write and pwrite on them still work.
        auto log = tg::log_files_open(a.policy->log);
        if (!log)
            attempt_deny(a, "log-unavailable", log.error().message());
        a.log = std::move(*log);
        auto confined = tg::confine_exec_once(a.tmux_fd.get());
        if (!confined)
            attempt_deny(a, "confine-failed", confined.error().message());
        if (!confined->note.empty())
            a.record.detail = confined->note;
    }
    a.record.allow = true;
    a.record.reason = d.reason;
    if (auto ok = record_write(a); !ok)
        attempt_deny(a, "log-unavailable", ok.error().message());
    if (a.args.dry_run) {
        // The record holds the decision and the status says it; the line is
        // for people, and stdout may be glibc's read-only /dev/null stand-in
        // for a descriptor the caller closed.
        std::string out = "tmuxguard: allowed: " + a.record.mode + "\n";
        (void)!::write(STDOUT_FILENO, out.data(), out.size());
        return kAttached;
    }

    // 10. Exec the one fixed tmux command, confined, on its own pty; relay.
    attach_run(a, std::move(socket_fd));
}

int main(int argc, char** argv)
{
    try {
        return attempt_run(argc, argv);
    } catch (...) {
        // An exception (std::bad_alloc under a low RLIMIT_AS, say) in any
        // step: nothing was exec'd, and it is a refusal, never a crash.
        static const char line[] = "tmuxguard: denied: internal-error\n";
        (void)!::write(STDERR_FILENO, line, sizeof line - 1);
        ::syslog(LOG_AUTHPRIV | LOG_WARNING, "decision=deny reason=internal-error uid=%u",
                 static_cast<unsigned>(::getuid()));
        return kSystem;
    }
}
