// Whole-process timer: starts each command in turn (posix_spawn, the same
// vfork-style clone for every command), waits for it, and times spawn to
// reaped on the monotonic clock. The commands are interleaved, one of each
// per round, the order rotated every round, so they share the machine's
// load; the first command is the reference every ratio is taken against.
// Never a timed test: it reports, it asserts nothing about speed. It does
// fail (exit 1) when a command does not exit 0, so a refused attach or a
// sudo asking for a password never passes for a fast one.
//
// usage: tg_bench_exec --runs=N [--warmup=N] NAME=COMMAND...
// COMMAND is an absolute path and its arguments, separated by blanks (no
// quoting). stdin and stdout are /dev/null, stderr is inherited, the
// environment is this program's. Prints one line per command, the medians
// of each one's own CPU time and minor faults (wait4's rusage: a profile
// that needs no perf), and the ratio of the wall-time medians for every
// pair.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "bench_util.hpp"

extern char** environ;

namespace {

struct Command {
    std::string name;
    std::vector<std::string> argv;
    std::vector<double> us;       // wall time, spawn to reaped
    std::vector<double> cpu_us;   // the process's own CPU time, user + system (rusage) ...
    std::vector<double> minflt;   // ... and its minor page faults
};

Command command_parse(std::string_view spec)
{
    const std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos || eq == 0)
        bench::die("not NAME=COMMAND: " + std::string(spec));
    Command c;
    c.name = std::string(spec.substr(0, eq));
    std::istringstream words{std::string(spec.substr(eq + 1))};
    for (std::string w; words >> w;)
        c.argv.push_back(w);
    if (c.argv.empty() || c.argv[0].front() != '/')
        bench::die(c.name + ": the command must start with an absolute path");
    return c;
}

double timeval_us(const struct timeval& tv)
{
    return static_cast<double>(tv.tv_sec) * 1e6 + static_cast<double>(tv.tv_usec);
}

// Runs one command to its end; with `keep`, records its wall time and its
// rusage. Dies unless it exits 0.
void command_time(Command& c, const posix_spawn_file_actions_t& fa, bool keep)
{
    std::vector<char*> argv;
    for (const auto& a : c.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const std::int64_t t0 = bench::now_ns();
    int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    if (rc != 0) {
        errno = rc;
        bench::die_errno(c.name + ": posix_spawn " + c.argv[0]);
    }
    int status = 0;
    struct rusage ru {};
    while (::wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            bench::die_errno("wait4");
    const std::int64_t t1 = bench::now_ns();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench::die(c.name + ": exited with " +
                   (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status))));
    if (!keep)
        return;
    c.us.push_back(static_cast<double>(t1 - t0) / 1000.0);
    // User and system together: the kernel's split of so short a process
    // is a guess from ticks.
    c.cpu_us.push_back(timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime));
    c.minflt.push_back(static_cast<double>(ru.ru_minflt));
}

// One round: every command once, starting at `first`.
void round_run(std::vector<Command>& cmds, std::size_t first, bool keep,
               const posix_spawn_file_actions_t& fa)
{
    for (std::size_t i = 0; i < cmds.size(); ++i)
        command_time(cmds[(first + i) % cmds.size()], fa, keep);
}

void report(const std::vector<Command>& cmds)
{
    for (const auto& c : cmds)
        bench::samples_print(c.name.c_str(), c.us);
    for (const auto& c : cmds)
        std::printf("%-10s rusage medians: cpu_us=%.0f minor_faults=%.0f\n", c.name.c_str(),
                    bench::percentile(c.cpu_us, 50), bench::percentile(c.minflt, 50));
    for (std::size_t i = 1; i < cmds.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            std::printf("%s/%s median_ratio=%.2f\n", cmds[i].name.c_str(), cmds[j].name.c_str(),
                        bench::percentile(cmds[i].us, 50) / bench::percentile(cmds[j].us, 50));
}

}  // namespace

int main(int argc, char** argv)
{
    bench::g_program = "tg_bench_exec";
    std::string runs_text = "100", warmup_text = "10";
    std::vector<Command> cmds;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (!bench::option_take(a, "runs", runs_text) && !bench::option_take(a, "warmup", warmup_text))
            cmds.push_back(command_parse(a));
    }
    if (cmds.empty())
        bench::die("usage: tg_bench_exec --runs=N [--warmup=N] NAME=COMMAND...");
    const int runs = bench::count_parse(runs_text, "--runs");
    const int warmup = warmup_text == "0" ? 0 : bench::count_parse(warmup_text, "--warmup");

    posix_spawn_file_actions_t fa;
    if (::posix_spawn_file_actions_init(&fa) != 0 ||
        ::posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0) != 0 ||
        ::posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) != 0)
        bench::die("posix_spawn_file_actions");
    for (int r = 0; r < warmup; ++r)
        round_run(cmds, static_cast<std::size_t>(r), false, fa);
    for (int r = 0; r < runs; ++r)
        round_run(cmds, static_cast<std::size_t>(r), true, fa);
    report(cmds);
    return 0;
}
