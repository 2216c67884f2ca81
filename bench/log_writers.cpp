// Decision records per second with 1 and with 64 concurrent writer
// processes appending to one log through the library's writer (the
// wrapper's record_write path: log_files_open once per process, then
// log_append per record: lock, head, tail, hash chain, write, head), and
// how many records were lost. Every round writes the same number of
// records, shared out among the writers; the writer counts alternate round
// by round, so they share the machine's load. After each round the log is
// read back: every record must be there exactly once, each on its own
// line, and the hash chain and the head must verify (LogVerifier, as
// `tmuxguard log verify` does). Never a timed test: it reports, it asserts
// nothing about speed. It does fail (exit 1) on any lost, torn, duplicated
// or unchained record, or a writer that failed.
//
// usage (root): tg_bench_log_writers --log=PATH [--writers=1,64]
//     [--records=N] [--rounds=N]
// PATH and PATH.head must exist, owned by root and not writable by other
// (log_open's rules); both are reset before every round. N must be a
// multiple of every writer count.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <unordered_set>

#include "bench_util.hpp"
#include "tmuxguard/decision_log.hpp"
#include "tmuxguard/log_chain.hpp"

namespace {

struct Config {
    std::string log;
    std::vector<int> writers{1, 64};
    int records = 6400;
    int rounds = 5;
};

// Writer w's record number k: the session field says whose it is.
tg::DecisionRecord record_make(int w, int k)
{
    tg::DecisionRecord r;
    r.event = "check";
    r.allow = true;
    r.reason = "permitted";
    r.uid = 1001;
    r.share = "bench";
    r.mode = "view";
    r.owner_uid = 1000;
    r.socket = "/run/tmuxguard/1000/bench";
    r.server_pid = 4242;
    r.pid = ::getpid();
    r.session = "w" + std::to_string(w) + "-" + std::to_string(k);
    r.rule = "/etc/tmuxguard/policy.conf:3";
    return r;
}

// The child: opens the log, waits on the start pipe, writes its share, one
// record at a time, the way the wrapper writes its own.
[[noreturn]] void writer_run(const Config& c, int w, int count, int start_fd)
{
    auto files = tg::log_files_open(c.log);
    if (!files) {
        std::fprintf(stderr, "writer %d: %s\n", w, files.error().message().c_str());
        std::_Exit(1);
    }
    char b = 0;
    while (::read(start_fd, &b, 1) < 0 && errno == EINTR) {
    }
    for (int k = 0; k < count; ++k) {
        struct timespec now {};
        ::clock_gettime(CLOCK_REALTIME, &now);
        if (auto hash = tg::log_append(*files, record_make(w, k), now); !hash) {
            std::fprintf(stderr, "writer %d: %s\n", w, hash.error().message().c_str());
            std::_Exit(1);
        }
    }
    std::_Exit(0);
}

// An empty log and a head that describes it, as `tmuxguard reload` leaves them.
void log_reset(const Config& c)
{
    auto files = tg::log_files_open(c.log);
    if (!files)
        bench::die(files.error().message());
    if (::ftruncate(files->log.get(), 0) != 0)
        bench::die_errno("truncate " + c.log);
    auto head = tg::log_head_compute(files->log.get());
    if (!head || !tg::log_head_write(files->head.get(), *head))
        bench::die("cannot write the head of " + c.log);
}

// The chain and the head as `tmuxguard log verify` checks them; dies on a
// problem.
void chain_verify(const Config& c)
{
    auto files = tg::log_files_open(c.log);
    if (!files)
        bench::die(files.error().message());
    auto head = tg::log_head_read(files->head.get());
    if (!head)
        bench::die(head.error().message());
    tg::LogVerifier v;
    v.file_begin(c.log, *head);
    auto scanned = tg::log_lines_scan(files->log.get(), UINT64_MAX,
                                      [&](const tg::LogLine& l) { return v.line(l); });
    if (!scanned)
        bench::die(scanned.error().message());
    (void)v.file_end();
    if (v.failed())
        bench::die("the chain does not verify: " + v.report().problem);
}

// Every line a whole record and every record there once; the number missing.
long log_verify(const Config& c, int writers, int per_writer)
{
    std::ifstream in(c.log, std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    const std::string text = all.str();
    if (!text.empty() && text.back() != '\n')
        bench::die("the log does not end in a newline (a torn record)");
    std::unordered_set<std::string> seen;
    std::istringstream lines(text);
    const std::string key = "\"session\":\"";
    for (std::string line; std::getline(lines, line);) {
        std::size_t at = line.find(key);
        if (line.empty() || line.front() != '{' || line.back() != '}' || at == std::string::npos)
            bench::die("a malformed line in the log: " + line.substr(0, 120));
        at += key.size();
        if (!seen.insert(line.substr(at, line.find('"', at) - at)).second)
            bench::die("a record written twice: " + line.substr(0, 120));
    }
    return static_cast<long>(writers) * per_writer - static_cast<long>(seen.size());
}

// One round with `writers` processes; records per second. Adds the number
// of records lost to `lost`.
double round_run(const Config& c, int writers, long& lost)
{
    log_reset(c);
    const int per_writer = c.records / writers;
    int start[2];
    if (::pipe2(start, O_CLOEXEC) != 0)
        bench::die_errno("pipe");
    std::vector<pid_t> pids;
    for (int w = 0; w < writers; ++w) {
        pid_t pid = ::fork();
        if (pid < 0)
            bench::die_errno("fork");
        if (pid == 0) {
            ::close(start[1]);
            writer_run(c, w, per_writer, start[0]);
        }
        pids.push_back(pid);
    }
    ::close(start[0]);
    const std::int64_t t0 = bench::now_ns();
    ::close(start[1]);  // every writer's read() returns: go
    bool failed = false;
    for (pid_t pid : pids) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                bench::die_errno("waitpid");
        failed = failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    const std::int64_t t1 = bench::now_ns();
    if (failed)
        bench::die("a writer failed");
    lost += log_verify(c, writers, per_writer);
    chain_verify(c);
    return static_cast<double>(c.records) / (static_cast<double>(t1 - t0) / 1e9);
}

Config config_parse(int argc, char** argv)
{
    Config c;
    std::string writers, records, rounds;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (!bench::option_take(a, "log", c.log) && !bench::option_take(a, "writers", writers) &&
            !bench::option_take(a, "records", records) && !bench::option_take(a, "rounds", rounds))
            bench::die("unknown argument: " + std::string(a));
    }
    if (c.log.empty())
        bench::die("usage: tg_bench_log_writers --log=PATH [--writers=1,64] [--records=N] [--rounds=N]");
    if (!records.empty())
        c.records = bench::count_parse(records, "--records");
    if (!rounds.empty())
        c.rounds = bench::count_parse(rounds, "--rounds");
    if (!writers.empty()) {
        c.writers.clear();
        std::istringstream list(writers);
        for (std::string w; std::getline(list, w, ',');)
            c.writers.push_back(bench::count_parse(w, "--writers"));
    }
    for (int w : c.writers)
        if (c.records % w != 0)
            bench::die("--records must be a multiple of every writer count");
    return c;
}

}  // namespace

int main(int argc, char** argv)
{
    bench::g_program = "tg_bench_log_writers";
    const Config c = config_parse(argc, argv);
    std::vector<std::vector<double>> rates(c.writers.size());
    long lost = 0;
    for (int r = 0; r < c.rounds; ++r)
        for (std::size_t i = 0; i < c.writers.size(); ++i) {
            std::size_t v = (static_cast<std::size_t>(r) + i) % c.writers.size();
            rates[v].push_back(round_run(c, c.writers[v], lost));
        }
    for (std::size_t v = 0; v < c.writers.size(); ++v)
        std::printf("writers=%d rounds=%d records_per_round=%d median_records_per_s=%.0f "
                    "min_records_per_s=%.0f max_records_per_s=%.0f\n",
                    c.writers[v], c.rounds, c.records, bench::percentile(rates[v], 50),
                    bench::percentile(rates[v], 0), bench::percentile(rates[v], 100));
    for (std::size_t v = 1; v < c.writers.size(); ++v)
        std::printf("writers %d/%d median_rate_ratio=%.2f\n", c.writers[v], c.writers[0],
                    bench::percentile(rates[v], 50) / bench::percentile(rates[0], 50));
    std::printf("lost=%ld\n", lost);
    return lost == 0 ? 0 : 1;
}
