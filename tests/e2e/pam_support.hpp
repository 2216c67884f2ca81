// PAM end-to-end support: the real libpam driven with pam_start_confdir()
// and service files in a root-owned temporary directory, as Linux-PAM's
// tst-pam_*-retval.c do, and the syslog lines those calls send, caught on a
// private /dev/log.
//
// libpam never hands PAM_IGNORE to the application (a stack that only
// ignores ends in PAM_PERM_DENIED), and pam_close_session on a handle whose
// open failed returns PAM_PERM_DENIED whatever the module said (the chain
// frozen at open decides). So a service file here is a probe stack that
// shows the module's own code:
//
//   session [success=done ignore=ignore default=die] MODULE ARGS
//   session optional pam_exec.so stdout quiet /bin/echo tg-probe:PAM_IGNORE
//   session required pam_permit.so
//
// PAM_SUCCESS ends the stack with PAM_SUCCESS; any failure ends it with the
// module's code; PAM_IGNORE falls through to pam_exec, whose echo reaches
// the conversation (pam_echo would not do: it is silent at close), and
// ends in PAM_SUCCESS, as a real stack with a later module would. A close
// whose open failed runs on a fresh handle.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include <security/pam_appl.h>

namespace tge2e {

using namespace std::chrono_literals;

// The installed module (PREFIX/lib/security/pam_tmuxguard.so).
[[nodiscard]] std::string pam_module_path();
// The test-only twin with fault=throw|bad_alloc|int (build tree, never installed).
[[nodiscard]] std::string pam_fault_module_path();
// "PAM_SUCCESS", "PAM_SESSION_ERR", ...; "PAM_#N" for a code not named here.
[[nodiscard]] std::string pam_code_name(int rc);

// One test's root-owned 0755 directory under the test prefix (so every
// component of a runtime_dir= inside it passes the module's walk, and an
// interrupted run loses it with the prefix): service files in pam.d/, the
// runtime directory at run/tmuxguard (not created: the module makes it).
// Removed with everything in it.
class PamTree {
public:
    PamTree();
    ~PamTree();
    PamTree(const PamTree&) = delete;
    PamTree& operator=(const PamTree&) = delete;

    // Empty when the directory could not be made (the test then fails).
    [[nodiscard]] const std::string& root() const { return root_; }
    [[nodiscard]] std::string confdir() const { return root_ + "/pam.d"; }
    [[nodiscard]] std::string runtime() const { return root_ + "/run/tmuxguard"; }
    // "runtime_dir=RUNTIME", the argument every service here needs: the
    // module's default is the machine's /run/tmuxguard.
    [[nodiscard]] std::string runtime_arg() const { return "runtime_dir=" + runtime(); }
    [[nodiscard]] std::string user_dir(uid_t uid) const;
    // Writes pam.d/SERVICE: the probe stack around `module` with `args`.
    void service_write(const std::string& service, const std::string& args,
                       const std::string& module = pam_module_path()) const;
    // Writes pam.d/SERVICE with exactly these lines (root 0644).
    void service_write_lines(const std::string& service,
                             const std::vector<std::string>& lines) const;

private:
    std::string root_;
};

// What a function run in a child hands back: named outcomes.
using Report = std::map<std::string, std::string>;

// One PAM transaction (pam_start_confdir ... pam_end) for use inside
// syslog_capture(): nothing here asserts, every outcome is a string.
class PamHandle {
public:
    // `user` nullptr: PAM_USER stays unset.
    PamHandle(const std::string& confdir, const std::string& service, const char* user);
    ~PamHandle();
    PamHandle(const PamHandle&) = delete;
    PamHandle& operator=(const PamHandle&) = delete;

    // pam_start_confdir's code.
    [[nodiscard]] std::string started() const { return pam_code_name(start_rc_); }
    // pam_open_session / pam_close_session: the module's code (probe stack).
    [[nodiscard]] std::string open();
    [[nodiscard]] std::string close();
    // pam_getenv(NAME), "<unset>" when the PAM environment lacks it.
    [[nodiscard]] std::string env(const char* name) const;

private:
    [[nodiscard]] std::string call(int (*fn)(pam_handle_t*, int));

    pam_handle_t* h_ = nullptr;
    int start_rc_ = -1;
    std::vector<std::string> said_;  // what modules sent through the conversation
    struct pam_conv conv_ {};
};

// One login and logout of `user` through `service` on one handle, as login
// does: PREFIX"open", PREFIX"env" (TMUX_TMPDIR after the open), PREFIX"close"
// (on a fresh handle when the open failed: see the top of this file).
void pam_login(Report& r, const std::string& confdir, const std::string& service,
               const std::string& user, const std::string& prefix = {});
// Only the open (a session that stays counted): PREFIX"open", PREFIX"env".
void pam_open_only(Report& r, const std::string& confdir, const std::string& service,
                   const std::string& user, const std::string& prefix = {});
// Only the close, on a fresh handle (a logout seen from another process):
// PREFIX"close".
void pam_close_only(Report& r, const std::string& confdir, const std::string& service,
                    const std::string& user, const std::string& prefix = {});

struct SyslogLine {
    int facility = -1;    // LOG_AUTHPRIV is 10
    int severity = -1;    // LOG_CRIT 2, LOG_ERR 3, LOG_WARNING 4, LOG_NOTICE 5, LOG_DEBUG 7
    std::string message;  // what follows "IDENT: " (or "IDENT[PID]: ")
    std::string raw;      // the datagram as received
};

// A module's line: severity and text (after "MODULE(SERVICE:session): ").
struct ModuleLine {
    int severity = -1;
    std::string text;
    bool operator==(const ModuleLine&) const = default;
};

struct Captured {
    int status = -1;      // the child's exit status; 0 when `fn` returned
    std::string problem;  // what went wrong in the child's set-up, or a timeout
    Report report;
    std::vector<SyslogLine> lines;

    // The report's value, "<missing>" when absent.
    [[nodiscard]] std::string get(const std::string& key) const;
    // The lines `module` logged for `service`, in order; a line with another
    // facility than LOG_AUTHPRIV gets severity -1 (so it never matches).
    [[nodiscard]] std::vector<ModuleLine> module_lines(
        const std::string& service, const std::string& module = "pam_tmuxguard") const;
    // Only the lines sent after / before syslog_mark(`mark`) (none after a
    // mark that was never sent, all before it).
    [[nodiscard]] Captured after(const std::string& mark) const;
    [[nodiscard]] Captured before(const std::string& mark) const;
    // Everything, for failure messages.
    [[nodiscard]] std::string dump() const;
};

// In a syslog_capture() function: a line that splits the capture into what
// came before and after (syslog(3) sends before it returns, so every line of
// this process, and of any child it has waited for, is on the right side).
void syslog_mark(const std::string& mark);

// Runs `fn` in a forked child (root) in its own mount namespace, where /dev
// is a fresh tmpfs with the usual device nodes bound from the real /dev and
// a datagram socket at /dev/log, read by a sink process. Returns what `fn`
// reported and every syslog line the child and its descendants sent
// meanwhile. The child is single-threaded, like login and sshd; its host
// state (umask, ids, signals) is the test's to change.
[[nodiscard]] Captured syslog_capture(const std::function<void(Report&)>& fn,
                                      std::chrono::milliseconds timeout = 60s);

// getfacl's entries of `path` (no comments, symlinks not followed), one a line.
[[nodiscard]] std::string acl_entries(const std::string& path);

// Printable form of a module line list, for failure messages.
[[nodiscard]] std::string module_lines_text(const std::vector<ModuleLine>& lines);
// GoogleTest's printer for ModuleLine: "<SEVERITY> TEXT".
void PrintTo(const ModuleLine& line, std::ostream* os);

}  // namespace tge2e
