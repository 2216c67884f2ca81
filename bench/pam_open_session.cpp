// Per-call cost of pam_tmuxguard.so's session entry points, through the real
// libpam (pam_start_confdir), side by side with pam_permit.so timed the same
// way in the same run: the module's cost is the difference between the two.
// Never a timed test: it reports, it asserts nothing about speed. It does
// fail a case (SkipWithError) when PAM does not return PAM_SUCCESS, so a
// broken set-up never passes for a fast module.
//
// usage (root): tg_bench_pam_open_session --confdir=DIR --user=NAME
//     --runtime-dir=PATH [--service=NAME] [--reap-service=NAME]
//     [--baseline-service=NAME] [--benchmark_...]
// Each option can also come from the environment: TGBP_CONFDIR, TGBP_USER,
// TGBP_RUNTIME_DIR, TGBP_SERVICE, TGBP_REAP_SERVICE, TGBP_BASELINE_SERVICE.
// The service files in DIR (bench/run.sh writes them):
//   SERVICE           session required .../pam_tmuxguard.so runtime_dir=PATH
//   REAP-SERVICE      the same line plus reap_on_logout
//   BASELINE-SERVICE  session required pam_permit.so
// PATH should be on a tmpfs, as /run is on a real machine: on ext4 the
// session count's truncate-and-write waits for the disk.
//
// What each case times (a fresh handle per iteration, as in a login: the
// module is dlopen'ed by pam_start and its first call pays for its pages):
//   BM_OpenSession_*  pam_open_session alone; pam_start_confdir,
//                     pam_close_session and pam_end are outside the clock
//                     (manual time, so no PauseTiming cost either).
//   BM_OpenClose_*    pam_open_session + pam_close_session.
//   BM_Transaction_*  pam_start_confdir + open + close + pam_end, all timed.
#include <benchmark/benchmark.h>

#include <pwd.h>
#include <security/pam_appl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

namespace {

struct Config {
    std::string confdir;
    std::string user;
    std::string runtime_dir;
    std::string service = "tmuxguard-bench";
    std::string reap_service = "tmuxguard-bench-reap";
    std::string baseline_service = "tmuxguard-bench-permit";
    uid_t uid = 0;
    gid_t gid = 0;
    std::string user_dir;   // RUNTIME/UID
    std::string tmux_dir;   // RUNTIME/UID/tmux-UID, where plain tmux puts its socket
    std::string count_file; // RUNTIME/.sessions/UID
};

// Set once in main(), before any case runs; read-only afterwards.
Config g_config;
// Set by any case that failed, so the program's exit status says so.
bool g_failed = false;

using Clock = std::chrono::steady_clock;

// The module never converses; anything that tries gets an error.
int conv_none(int, const struct pam_message**, struct pam_response**, void*)
{
    return PAM_CONV_ERR;
}

const struct pam_conv kConv = {conv_none, nullptr};

// One PAM transaction: pam_start_confdir on construction, pam_end on
// destruction.
class PamHandle {
public:
    explicit PamHandle(const std::string& service)
        : status_(pam_start_confdir(service.c_str(), g_config.user.c_str(), &kConv,
                                    g_config.confdir.c_str(), &h_))
    {
    }
    ~PamHandle()
    {
        if (h_ != nullptr)
            pam_end(h_, PAM_SUCCESS);
    }
    PamHandle(const PamHandle&) = delete;
    PamHandle& operator=(const PamHandle&) = delete;

    [[nodiscard]] pam_handle_t* get() const { return h_; }
    [[nodiscard]] int start_status() const { return status_; }

private:
    pam_handle_t* h_ = nullptr;
    int status_;
};

// Marks the case failed with `what`; returns false.
bool fail(benchmark::State& state, const std::string& what)
{
    g_failed = true;
    state.SkipWithError(what.c_str());
    return false;
}

// False, and the case marked failed, unless `rc` is PAM_SUCCESS.
bool pam_ok(benchmark::State& state, const PamHandle& h, int rc, const char* what)
{
    if (rc == PAM_SUCCESS)
        return true;
    return fail(state, std::string(what) + ": " + pam_strerror(h.get(), rc));
}

// Removes an empty directory that may be missing.
bool dir_remove(benchmark::State& state, const std::string& path)
{
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT)
        return true;
    return fail(state, "rmdir " + path + ": " + std::strerror(errno));
}

// One untimed open + close through the plain module service, so that
// RUNTIME/UID exists and is right; checks that the module exported
// TMUX_TMPDIR=RUNTIME/UID, i.e. that it really ran.
bool user_dir_settle(benchmark::State& state)
{
    PamHandle h(g_config.service);
    if (!pam_ok(state, h, h.start_status(), "pam_start_confdir") ||
        !pam_ok(state, h, pam_open_session(h.get(), 0), "pam_open_session"))
        return false;
    const char* env = pam_getenv(h.get(), "TMUX_TMPDIR");
    if (env == nullptr || g_config.user_dir != env)
        return fail(state, "TMUX_TMPDIR is not " + g_config.user_dir + " after open_session");
    if (!pam_ok(state, h, pam_close_session(h.get(), 0), "pam_close_session"))
        return false;
    struct stat st {};
    if (::lstat(g_config.user_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != g_config.uid)
        return fail(state, g_config.user_dir + " is not a directory of uid " +
                               std::to_string(g_config.uid));
    return true;
}

// RUNTIME/UID/tmux-UID as tmux makes it (the user's, 0700), empty: the
// reaper scans it and finds no server.
bool tmux_dir_make(benchmark::State& state)
{
    const std::string& d = g_config.tmux_dir;
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST)
        return fail(state, "mkdir " + d + ": " + std::strerror(errno));
    if (::chown(d.c_str(), g_config.uid, g_config.gid) != 0 || ::chmod(d.c_str(), 0700) != 0)
        return fail(state, "chown/chmod " + d + ": " + std::strerror(errno));
    return true;
}

// Starts the session count from nothing, so open makes it 1 and close 0.
bool session_count_clear(benchmark::State& state)
{
    if (::unlink(g_config.count_file.c_str()) == 0 || errno == ENOENT)
        return true;
    return fail(state, "unlink " + g_config.count_file + ": " + std::strerror(errno));
}

// True when the session count is back to 0 (close_session counted down and
// went on to the scan).
bool session_count_zero(benchmark::State& state)
{
    std::ifstream in(g_config.count_file);
    long n = -1;
    if (!(in >> n) || n != 0)
        return fail(state, g_config.count_file + " does not hold 0 after the last close_session");
    return true;
}

enum class Timed { open, open_close };

// The loop every manual-time case shares: a fresh handle per iteration, the
// clock around open (and close) only. `before` runs untimed before each
// iteration's pam_start.
template <class Before>
void sessions_run(benchmark::State& state, const std::string& service, Timed timed, Before before)
{
    for (auto _ : state) {
        if (!before(state))
            break;
        PamHandle h(service);
        if (!pam_ok(state, h, h.start_status(), "pam_start_confdir"))
            break;
        const Clock::time_point t0 = Clock::now();
        const int open = pam_open_session(h.get(), 0);
        int close = PAM_SUCCESS;
        if (timed == Timed::open_close && open == PAM_SUCCESS)
            close = pam_close_session(h.get(), 0);
        const Clock::time_point t1 = Clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        if (timed == Timed::open && open == PAM_SUCCESS)
            close = pam_close_session(h.get(), 0);
        if (!pam_ok(state, h, open, "pam_open_session") ||
            !pam_ok(state, h, close, "pam_close_session"))
            break;
    }
}

bool nothing_before(benchmark::State&) { return true; }

// The floor: libpam dispatching open_session to pam_permit.so.
void BM_OpenSession_Baseline(benchmark::State& state)
{
    sessions_run(state, g_config.baseline_service, Timed::open, nothing_before);
}

// Every login after the first: RUNTIME/UID exists and is right.
void BM_OpenSession_Existing(benchmark::State& state)
{
    if (!user_dir_settle(state))
        return;
    sessions_run(state, g_config.service, Timed::open, nothing_before);
}

// The first login after boot: RUNTIME/UID is missing (removed, untimed,
// before each iteration) and open_session creates it.
void BM_OpenSession_Create(benchmark::State& state)
{
    if (!dir_remove(state, g_config.tmux_dir))
        return;
    sessions_run(state, g_config.service, Timed::open, [](benchmark::State& s) {
        return dir_remove(s, g_config.user_dir);
    });
}

void BM_OpenClose_Baseline(benchmark::State& state)
{
    sessions_run(state, g_config.baseline_service, Timed::open_close, nothing_before);
}

// Without reap_on_logout close_session does nothing: what reaping adds is
// BM_OpenClose_Reap minus this.
void BM_OpenClose_Existing(benchmark::State& state)
{
    if (!user_dir_settle(state))
        return;
    sessions_run(state, g_config.service, Timed::open_close, nothing_before);
}

// reap_on_logout, no tmux server running: open counts 0 -> 1, close counts
// 1 -> 0, scans an empty tmux-UID (the compiled policy is read only when
// a socket is there).
void BM_OpenClose_Reap(benchmark::State& state)
{
    if (!user_dir_settle(state) || !tmux_dir_make(state) || !session_count_clear(state))
        return;
    sessions_run(state, g_config.reap_service, Timed::open_close, nothing_before);
    if (!state.error_occurred())
        session_count_zero(state);
}

// A whole session transaction, as login or sshd runs it.
void transaction_run(benchmark::State& state, const std::string& service)
{
    for (auto _ : state) {
        PamHandle h(service);
        if (!pam_ok(state, h, h.start_status(), "pam_start_confdir") ||
            !pam_ok(state, h, pam_open_session(h.get(), 0), "pam_open_session") ||
            !pam_ok(state, h, pam_close_session(h.get(), 0), "pam_close_session"))
            break;
    }
}

void BM_Transaction_Baseline(benchmark::State& state)
{
    transaction_run(state, g_config.baseline_service);
}

void BM_Transaction_Existing(benchmark::State& state)
{
    if (!user_dir_settle(state))
        return;
    transaction_run(state, g_config.service);
}

BENCHMARK(BM_OpenSession_Baseline)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OpenSession_Existing)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OpenSession_Create)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OpenClose_Baseline)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OpenClose_Existing)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OpenClose_Reap)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Transaction_Baseline)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Transaction_Existing)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Sets `field` from --NAME=VALUE in argv (Google Benchmark has taken its own
// flags out already) or else from the environment variable `env`. False on
// an argument this program does not know.
bool option_take(std::string_view arg, std::string_view name, std::string& field)
{
    const std::string prefix = "--" + std::string(name) + "=";
    if (arg.substr(0, prefix.size()) != prefix)
        return false;
    field = arg.substr(prefix.size());
    return true;
}

void option_env(const char* env, std::string& field)
{
    if (const char* v = std::getenv(env); v != nullptr && *v != '\0')
        field = v;
}

bool config_parse(int argc, char** argv, Config& c)
{
    option_env("TGBP_CONFDIR", c.confdir);
    option_env("TGBP_USER", c.user);
    option_env("TGBP_RUNTIME_DIR", c.runtime_dir);
    option_env("TGBP_SERVICE", c.service);
    option_env("TGBP_REAP_SERVICE", c.reap_service);
    option_env("TGBP_BASELINE_SERVICE", c.baseline_service);
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (!option_take(a, "confdir", c.confdir) && !option_take(a, "user", c.user) &&
            !option_take(a, "runtime-dir", c.runtime_dir) &&
            !option_take(a, "service", c.service) &&
            !option_take(a, "reap-service", c.reap_service) &&
            !option_take(a, "baseline-service", c.baseline_service)) {
            std::fprintf(stderr, "tg_bench_pam_open_session: unknown argument: %s\n", argv[i]);
            return false;
        }
    }
    if (c.confdir.empty() || c.user.empty() || c.runtime_dir.empty()) {
        std::fprintf(stderr, "tg_bench_pam_open_session: need --confdir, --user and --runtime-dir\n");
        return false;
    }
    return true;
}

// Fills in the account and the paths derived from it; checks that every
// service file is there (libpam would quietly fall back to "other").
bool config_resolve(Config& c)
{
    const struct passwd* pw = ::getpwnam(c.user.c_str());
    if (pw == nullptr) {
        std::fprintf(stderr, "tg_bench_pam_open_session: no account %s\n", c.user.c_str());
        return false;
    }
    c.uid = pw->pw_uid;
    c.gid = pw->pw_gid;
    const std::string uid = std::to_string(c.uid);
    c.user_dir = c.runtime_dir + "/" + uid;
    c.tmux_dir = c.user_dir + "/tmux-" + uid;
    c.count_file = c.runtime_dir + "/.sessions/" + uid;
    for (const std::string* s : {&c.service, &c.reap_service, &c.baseline_service}) {
        const std::string path = c.confdir + "/" + *s;
        if (::access(path.c_str(), R_OK) != 0) {
            std::fprintf(stderr, "tg_bench_pam_open_session: %s: %s\n", path.c_str(),
                         std::strerror(errno));
            return false;
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv)
{
    benchmark::Initialize(&argc, argv);
    if (!config_parse(argc, argv, g_config))
        return 2;
    if (::geteuid() != 0) {
        std::fprintf(stderr, "tg_bench_pam_open_session: needs root (the module chowns and sets ACLs)\n");
        return 1;
    }
    if (!config_resolve(g_config))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return g_failed ? 1 : 0;
}
