// Sanitizer settings compiled into every program of the sanitized build
// (TMUXGUARD_SANITIZE, see tests/sanitize.sh).
//
// They are compiled in rather than passed as ASAN_OPTIONS because most of
// these programs never see the caller's environment: the e2e tests start
// programs with a fixed environment, the wrapper builds a fresh one, and
// tmuxguard's own children (run_as) get none.
//
//  - exitcode=86: a finding must not pass for one of the programs' own
//    statuses (0 ok, 1 denied, 2 usage, 3 system, 128+N);
//  - every finding is fatal (halt_on_error; the build adds
//    -fno-sanitize-recover=all);
//  - reports go to files in TG_SANITIZE_LOG_DIR (the build's
//    TMUXGUARD_SANITIZE_LOG_DIR), which tests/sanitize.sh checks after the
//    run, so a report from a program whose stderr a test ignores is still
//    seen; except in the wrapper (TG_SANITIZE_WRAPPER), which writes them to
//    stderr: once confined it may not create a file;
//  - no LeakSanitizer in the wrapper: it needs ptrace, which a setgid
//    process may not do to itself and the confinement forbids.
#if defined(TG_SANITIZE_WRAPPER)
#define TG_LEAK_OPTION ":detect_leaks=0"
#define TG_LOG_OPTION ""
#elif defined(TG_SANITIZE_STDERR)  // tg_sanitize_probe: its reports are the test
#define TG_LEAK_OPTION ":detect_leaks=1"
#define TG_LOG_OPTION ""
#elif defined(TG_SANITIZE_LOG_DIR)
#define TG_LEAK_OPTION ":detect_leaks=1"
#define TG_LOG_OPTION ":log_path=" TG_SANITIZE_LOG_DIR "/report"
#else
#define TG_LEAK_OPTION ":detect_leaks=1"
#define TG_LOG_OPTION ""
#endif

extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options()
{
    return "exitcode=86:halt_on_error=1:check_initialization_order=1:strict_init_order=1"
           ":detect_stack_use_after_return=0:log_exe_name=1" TG_LEAK_OPTION TG_LOG_OPTION;
}

extern "C" __attribute__((visibility("default"), used)) const char* __ubsan_default_options()
{
    return "halt_on_error=1:print_stacktrace=1:exitcode=86:log_exe_name=1" TG_LOG_OPTION;
}

extern "C" __attribute__((visibility("default"), used)) const char* __lsan_default_options()
{
    return "exitcode=86";
}
