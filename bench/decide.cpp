// Decision latency in the library, on the wrapper's real path: the compiled
// policy text as `tmuxguard reload` writes it, read with compiled_parse(text,
// share, uid) (the bisecting read of attach/main.cpp's policy_open), then
// decide(). The policy has 10, 1,000 or 100,000 rules; all but one concern
// other shares and other users, so the answer is the same in every size and
// the cost must not grow with them.
// BM_DecideUnfiltered reads the whole text instead (compiled_parse(text)),
// the cost a reader without bisection would pay, for contrast.
// Never a timed test: it reports, it asserts nothing about speed. It does
// fail a case (exit 1) when the decision is not the expected allow, so a
// broken policy never passes for a fast one.
//
// usage: tg_bench_decide [--benchmark_...]
#include <benchmark/benchmark.h>

#include <ctime>
#include <map>
#include <string>

#include "tmuxguard/compiled.hpp"
#include "tmuxguard/decide.hpp"
#include "tmuxguard/policy.hpp"

namespace {

constexpr uid_t kOwner = 1000;
constexpr uid_t kGuest = 1001;
constexpr uid_t kOtherBase = 20000;  // u0..u99: the unrelated users
constexpr int kOthers = 100;
constexpr gid_t kGate = 990;

// Set by any case that failed, so the program's exit status says so.
bool g_failed = false;

// Names of the generated policy -> numbers, as NSS would answer `reload`.
class TableResolver : public tg::Resolver {
public:
    std::optional<uid_t> user_id(const std::string& name) override
    {
        if (name == "owner")
            return kOwner;
        if (name == "guest")
            return kGuest;
        if (name.size() > 1 && name[0] == 'u')
            return kOtherBase + static_cast<uid_t>(std::stoul(name.substr(1)));
        return std::nullopt;
    }
    std::optional<gid_t> group_id(const std::string&) override { return std::nullopt; }
    std::optional<tg::AccountInfo> account(uid_t uid) override
    {
        return tg::AccountInfo{uid, "n" + std::to_string(uid), "/home/n" + std::to_string(uid), "/bin/sh"};
    }
};

// The policy text with `rules` rules: the guest's permit on `bench`, then
// one permit per unrelated share, for an unrelated user.
std::string policy_text(int rules)
{
    std::string t = "set syslog off\nshare bench owner owner\npermit interact guest on bench\n";
    for (int i = 1; i < rules; ++i) {
        const std::string share = "s" + std::to_string(i);
        t += "share " + share + " owner u" + std::to_string(i % kOthers) + "\n";
        t += "permit view u" + std::to_string((i + 1) % kOthers) + " on " + share + "\n";
    }
    return t;
}

// The compiled text for `rules` rules, made once per size.
const std::string& compiled_text(int rules)
{
    static std::map<int, std::string> made;
    auto it = made.find(rules);
    if (it != made.end())
        return it->second;
    tg::Policy p = tg::policy_defaults();
    tg::policy_parse_text(policy_text(rules), "/etc/tmuxguard/policy.conf", p);
    tg::policy_check_whole(p);
    TableResolver r;
    tg::CompiledPolicy c = tg::policy_compile(p, r, kGate);
    if (!c.invalid.empty() || c.rules.size() != static_cast<std::size_t>(rules)) {
        std::fprintf(stderr, "tg_bench_decide: generated policy: %s (%zu rules)\n", c.invalid.c_str(),
                     c.rules.size());
        std::exit(1);
    }
    return made.emplace(rules, tg::compiled_serialize(c)).first->second;
}

const tg::Caller kCaller{kGuest, kGuest, {}};

// The wrapper's steps 5 and 6 on `text`; `filtered` picks the bisecting read.
tg::Decision decide_on(const std::string& text, bool filtered, std::time_t now)
{
    auto p = filtered ? tg::compiled_parse(text, std::string_view("bench"), kGuest) : tg::compiled_parse(text);
    if (!p)
        return {};
    return tg::decide(*p, kCaller, "bench", tg::Mode::interact, now);
}

void decide_run(benchmark::State& state, bool filtered)
{
    const std::string& text = compiled_text(static_cast<int>(state.range(0)));
    const std::time_t now = std::time(nullptr);
    tg::Decision first = decide_on(text, filtered, now);
    if (first.verdict != tg::Verdict::allow || first.reason != "permitted" || first.mode != tg::Mode::interact) {
        g_failed = true;
        state.SkipWithError(("expected allow/permitted/interact, got " + first.reason).c_str());
        return;
    }
    for (auto _ : state) {
        tg::Decision d = decide_on(text, filtered, now);
        benchmark::DoNotOptimize(d);
    }
    state.counters["policy_bytes"] = static_cast<double>(text.size());
}

void BM_Decide(benchmark::State& state) { decide_run(state, true); }
void BM_DecideUnfiltered(benchmark::State& state) { decide_run(state, false); }

BENCHMARK(BM_Decide)->Arg(10)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecideUnfiltered)->Arg(10)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return g_failed ? 1 : 0;
}
