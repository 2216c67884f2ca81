// tg_sanitize_probe: proves that the sanitized build still reports a memory
// error from a process in the wrapper's situation. Built only with
// TMUXGUARD_SANITIZE; tests/sanitize.sh installs it setgid in a private
// directory, runs it as another user, and checks the report and status.
//
//   tg_sanitize_probe heap|ubsan|leak [confine]
//
// Before the fault it does what tmuxguard-attach does to itself: default
// signal dispositions, no core dumps, not dumpable, and with `confine` the
// very filter and Landlock ruleset of confine_exec_once(). It prints one
// line first: "probe: at_secure=N egid=G rgid=R confined=0|1 landlock=ABI".
#include <signal.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tmuxguard/confine.hpp"

namespace {

// As the wrapper's step 1: every handler back to default, no core.
void probe_state_reset()
{
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)::sigaction(sig, &dfl, nullptr);
    struct rlimit zero {0, 0};
    (void)::setrlimit(RLIMIT_CORE, &zero);
    (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// One byte past a heap block, through a pointer the compiler cannot see through.
int probe_heap_overflow(int n)
{
    char* volatile p = static_cast<char*>(std::malloc(static_cast<std::size_t>(n)));
    std::memset(p, 'x', static_cast<std::size_t>(n));
    int c = p[n];
    std::free(p);
    return c;
}

int probe_signed_overflow(int n)
{
    volatile int big = INT_MAX - 1 + n;
    return big + n;
}

void* volatile g_only_reference;

// A block whose only pointer is overwritten: definitely lost at exit.
int probe_leak(int n)
{
    g_only_reference = std::malloc(static_cast<std::size_t>(n) * 64);
    g_only_reference = nullptr;
    return n;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s heap|ubsan|leak [confine]\n", argv[0]);
        return 2;
    }
    const std::string what = argv[1];
    const bool confine = argc > 2 && std::string(argv[2]) == "confine";
    probe_state_reset();
    int landlock = 0;
    if (confine) {
        int exec_fd = ::open("/bin/true", O_PATH | O_CLOEXEC);
        auto report = tg::confine_exec_once(exec_fd);
        if (!report) {
            std::fprintf(stderr, "probe: confine failed: %s\n", report.error().message().c_str());
            return 3;
        }
        landlock = report->landlock_abi;
    }
    std::fprintf(stderr, "probe: at_secure=%lu egid=%u rgid=%u confined=%d landlock=%d\n",
                 ::getauxval(AT_SECURE), ::getegid(), ::getgid(), confine ? 1 : 0, landlock);
    // argc stands in for a size the compiler cannot know.
    if (what == "heap")
        return probe_heap_overflow(argc + 14);
    if (what == "ubsan")
        return probe_signed_overflow(argc);
    if (what == "leak")
        return probe_leak(argc) == 0 ? 1 : 0;
    return 2;
}
