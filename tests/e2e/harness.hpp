// End-to-end harness: real accounts and groups, the installed setgid wrapper,
// real tmux servers started with `tmuxguard serve`, attaches driven inside an
// outer tmux. Everything the harness creates carries one unique tag
// ("tg" + 5 hex digits) and is removed at the end, on signals and at exit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace tge2e {

using namespace std::chrono_literals;

// Every wait in the suite is a bounded poll of this length at most.
inline constexpr std::chrono::milliseconds kWait = 10s;

// ---------------------------------------------------------------- processes

struct RunOptions {
    std::string user;                    // empty: stay root
    std::vector<std::string> extra_env;  // appended to the minimal environment
    bool empty_argv = false;             // execve(path, {NULL}, env): argc 0
    std::chrono::milliseconds timeout = kWait;
};

struct RunResult {
    pid_t pid = -1;
    int status = -1;  // exit status, 128+N when killed by signal N, -1 on timeout
    bool timed_out = false;
    std::string out;
    std::string err;
    // stdout and stderr, for failure messages.
    [[nodiscard]] std::string both() const;
};

// A started child whose output is still to be collected.
struct Child {
    pid_t pid = -1;
    int out_fd = -1;
    int err_fd = -1;
};

// Forks and execs argv (argv[0] searched in a fixed PATH) as opt.user, with a
// minimal fresh environment, stdin /dev/null, stdout/stderr on pipes.
[[nodiscard]] Child proc_spawn(const std::vector<std::string>& argv, const RunOptions& opt = {});
// Reads a spawned child's output until it exits; kills it after `timeout`.
[[nodiscard]] RunResult proc_collect(Child& c, std::chrono::milliseconds timeout = kWait);
// proc_spawn() then proc_collect().
[[nodiscard]] RunResult proc_run(const std::vector<std::string>& argv, const RunOptions& opt = {});
// Runs argv as `user` with extra environment entries.
[[nodiscard]] RunResult proc_run_as(const std::string& user, const std::vector<std::string>& argv,
                                    std::vector<std::string> extra_env = {});
// Polls `pred` every 50 ms until it holds or `timeout` passes.
[[nodiscard]] bool wait_until(const std::function<bool()>& pred,
                              std::chrono::milliseconds timeout = kWait);
// Live (non-zombie) processes whose real uid is `uid`.
[[nodiscard]] std::vector<pid_t> proc_list_by_uid(uid_t uid);
// The state letter of /proc/PID/stat ('T' stopped), NUL when it is gone.
[[nodiscard]] char proc_state(pid_t pid);
// Whether `pid` is a live (non-zombie) process.
[[nodiscard]] bool proc_is_alive(pid_t pid);
// Live (non-zombie) processes whose parent is `parent`, in pid order.
[[nodiscard]] std::vector<pid_t> proc_children(pid_t parent);
// Sends SIGTERM, waits, then SIGKILL; returns once `pid` is gone.
void proc_stop(pid_t pid);

// ---------------------------------------------------------------- the world

struct Account {
    std::string role;  // owner, viewer, typist, nobody, denied, member, other
    std::string name;  // TAG-role
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;
};

// The installed prefix, accounts and groups of this run (world.cpp).
class World {
public:
    static World& get();

    // Environment::SetUp: root check, prefix check, leftovers, install,
    // accounts. Failures are non-fatal (see WORLD_REQUIRE in world.cpp).
    void setup();
    // Environment::TearDown: removes everything setup() created.
    void teardown();

    [[nodiscard]] const Account& user(std::string_view role) const;
    // Whether setup() got as far as recording what it creates.
    [[nodiscard]] bool ready() const { return ready_; }
    // Whether setup() finished: tests may run.
    [[nodiscard]] bool complete() const { return complete_; }
    [[nodiscard]] const std::string& tag() const { return tag_; }
    [[nodiscard]] const std::string& gate_group() const { return gate_group_; }
    [[nodiscard]] gid_t gate_gid() const { return gate_gid_; }
    [[nodiscard]] const std::string& team_group() const { return team_group_; }
    // A name unique in this run: TAG-what-N (also a valid tmux -L name).
    [[nodiscard]] std::string unique_name(std::string_view what);
    // An account whose name needs escaping and --badname: TAG + kOddSuffix
    // (UTF-8 bytes, '.', '_', '$'). Created on first use; its name is armed
    // for cleanup with the others, so it is removed like them.
    [[nodiscard]] const Account& odd_user();
    // Records an outer tmux server (-L name) before it is started, and its pid after.
    void outer_register_name(const std::string& name);
    void outer_register_pid(pid_t pid);

private:
    World() = default;
    bool world_setup_steps();
    void world_leftovers_remove();
    bool world_state_write();
    bool world_prefix_install();
    bool world_accounts_create();
    bool world_wrapper_setgid();

    std::string tag_;
    std::string gate_group_;
    std::string team_group_;
    gid_t gate_gid_ = 0;
    std::vector<Account> accounts_;
    Account odd_;  // apart from accounts_: references into that stay valid
    bool ready_ = false;
    bool complete_ = false;
    int lock_fd_ = -1;
    unsigned counter_ = 0;
};

// What World::odd_user() appends to the tag: "-é.x-y_z$" (é as UTF-8).
inline constexpr const char* kOddSuffix = "-\xc3\xa9.x-y_z$";

// Installs the signal handlers and the atexit hook that remove the world.
void world_cleanup_install();

// Paths of the test prefix (all baked into the build, see paths.hpp).
[[nodiscard]] std::string path_prefix();       // /opt/tmuxguard-test
[[nodiscard]] std::string path_attach();       // PREFIX/bin/tmuxguard-attach
[[nodiscard]] std::string path_cli();          // PREFIX/sbin/tmuxguard
[[nodiscard]] std::string path_runtime_dir();  // PREFIX/run
[[nodiscard]] std::string path_scratch();      // PREFIX/e2e (root 0755, for test files)
[[nodiscard]] std::string path_outer_conf();   // config of the outer tmux servers

// ---------------------------------------------------------------- policy

// Lines the harness writes above every test policy.
inline constexpr int kPolicyHeaderLines = 3;
// The policy file's line number of body line `i` (0-based).
[[nodiscard]] int policy_body_line(int i);
// "POLICY_FILE:LINE" of body line `i`, as decision records name rules.
[[nodiscard]] std::string policy_rule_source(int i);
// Writes header + body to the policy file (fresh inode, root 0644).
void policy_write(const std::vector<std::string>& body);
// Writes a drop-in file policy.d/NAME (root 0644).
void policy_dropin_write(const std::string& name, const std::vector<std::string>& lines);
// Removes every drop-in file.
void policy_dropins_clear();
// Runs the CLI as root.
[[nodiscard]] RunResult cli_run(const std::vector<std::string>& args);

// ---------------------------------------------------------------- JSON records

struct JsonValue {
    enum class Kind { string, number, boolean, null } kind = Kind::null;
    std::string text;  // decoded string, number as written, "true"/"false"/"null"
};

// One flat JSON object per line; nullopt unless the line is exactly that.
[[nodiscard]] std::optional<std::map<std::string, JsonValue>>
json_parse_flat(std::string_view line);

// A parsed decision record.
struct Record {
    std::map<std::string, JsonValue> fields;
    std::string line;
    // The field's text, "null" for null, "<missing>" when absent.
    [[nodiscard]] std::string get(const std::string& key) const;
    [[nodiscard]] bool has(const std::string& key) const { return fields.count(key) != 0; }
};

struct LogMark {
    std::size_t lines = 0;
};

// Every line of the decision log (empty when the file is missing).
[[nodiscard]] std::vector<std::string> log_lines();
// The current end of the decision log.
[[nodiscard]] LogMark log_mark();
// Lines appended since `m`.
[[nodiscard]] std::vector<std::string> log_lines_since(LogMark m);
// Waits for a record after `m` for which `pred` holds.
[[nodiscard]] std::optional<Record> log_wait_record(LogMark m,
                                                    const std::function<bool(const Record&)>& pred);
// The record written by process `pid` after `m`.
[[nodiscard]] std::optional<Record> log_record_of(LogMark m, pid_t pid);

// ---------------------------------------------------------------- shares and outer tmux

struct Share {
    std::string name;
    std::string session;  // the share's default session: name with '.' -> '_'
    std::string socket;
    const Account* owner = nullptr;
    pid_t server_pid = -1;
    bool custom_socket = false;
    // "share NAME owner USER [socket PATH]"
    [[nodiscard]] std::string policy_line() const;
};

// "permit MODE WHO on SHARE[ EXTRA]", a rule line of a test policy.
[[nodiscard]] std::string rule_permit(std::string_view mode, std::string_view who, const Share& s,
                                      std::string_view extra = {});
// "deny WHO on SHARE".
[[nodiscard]] std::string rule_deny(std::string_view who, const Share& s);

// An outer tmux server (root, -L NAME) whose one pane runs a guest's attach.
struct Outer {
    std::string name;
    pid_t server_pid = -1;
};

// ---------------------------------------------------------------- fixture

// Base of every scenario: helpers, and cleanup of what a test started.
class E2E : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    [[nodiscard]] static const Account& user(std::string_view role)
    {
        return World::get().user(role);
    }

    // A share of the `owner` account; `socket` empty: RUNTIME/UID/NAME.
    [[nodiscard]] Share share_make(const std::string& name, const std::string& socket = {});
    // Writes the policy and runs `tmuxguard reload`; asserts exit 0.
    void policy_install(const std::vector<std::string>& body);
    // `tmuxguard serve` as the owner; waits for the server; records its pid.
    void serve(Share& s);
    // tmux run by the share's owner against its own socket.
    [[nodiscard]] RunResult owner_tmux(const Share& s, const std::vector<std::string>& args);
    // The owner's pane, as capture-pane -p prints it.
    [[nodiscard]] std::string owner_pane(const Share& s);
    // Types `text` and Enter into the owner's pane.
    void owner_type(const Share& s, const std::string& text);
    // "UID READONLY" per client attached to the share's server.
    [[nodiscard]] std::vector<std::string> share_clients(const Share& s);
    // Whether a client of `uid` is attached; `readonly` receives its flag.
    [[nodiscard]] bool share_has_client(const Share& s, uid_t uid, std::string* readonly = nullptr);

    // `tmuxguard-attach -n ARGS` (or another binary) as `who`.
    [[nodiscard]] RunResult attach_check(const Account& who, const std::vector<std::string>& args,
                                         std::vector<std::string> extra_env = {});
    // A real attach without a terminal (denials only).
    [[nodiscard]] RunResult attach_plain(const Account& who, const std::vector<std::string>& args);

    // An outer tmux (registered for cleanup) whose one pane runs `cmd` as root.
    [[nodiscard]] Outer outer_start(const std::string& cmd);
    // Starts an outer tmux whose pane runs `runuser -u GUEST -- [ENV...] BINARY ARGS`.
    [[nodiscard]] Outer outer_attach(const Account& guest, const std::vector<std::string>& args,
                                     const std::vector<std::string>& env = {},
                                     const std::string& binary = {});
    [[nodiscard]] std::string outer_capture(const Outer& o);
    void outer_type(const Outer& o, const std::string& text);
    void outer_keys(const Outer& o, const std::vector<std::string>& keys);
    [[nodiscard]] bool outer_dead(const Outer& o);
    [[nodiscard]] std::string outer_dead_status(const Outer& o);

    std::vector<Share> served_;
    std::vector<Outer> outers_;
    std::vector<pid_t> helpers_;  // listener processes and the like
};

// ---------------------------------------------------------------- assertions

// The exit status the contract gives a denial reason.
[[nodiscard]] int reason_exit_status(std::string_view reason);
// Exit status, exactly "tmuxguard: denied: REASON\n" on stderr, nothing on stdout.
void expect_denied(const RunResult& r, std::string_view reason);
// Exit 0 and exactly "tmuxguard: allowed: MODE\n".
void expect_allowed(const RunResult& r, std::string_view mode);
// A record's verdict fields.
void expect_record(const std::optional<Record>& rec, std::string_view decision,
                   std::string_view reason, std::string_view mode = {});

// Whether `hay` contains `needle`.
[[nodiscard]] bool contains(std::string_view hay, std::string_view needle);
// Splits text into lines (no trailing empty line).
[[nodiscard]] std::vector<std::string> split_lines(std::string_view text);
// The whole file, "" when unreadable.
[[nodiscard]] std::string file_read(const std::string& path);
// The inode of the socket at `path` (lstat), 0 when there is no socket.
[[nodiscard]] ino_t socket_inode(const std::string& path);
// The blank-separated fields after "KEY:" in /proc/PID/status, {} if absent.
[[nodiscard]] std::vector<std::string> proc_status_fields(pid_t pid, const std::string& key);
// Local time `now + minutes` as the policy writes it: "HH:MM",
// "YYYY-MM-DDTHH:MM", or the C locale's weekday ("Mon").
enum class TimeFormat { hhmm, stamp, weekday };
[[nodiscard]] std::string local_time_format(long minutes_from_now, TimeFormat f);

}  // namespace tge2e
