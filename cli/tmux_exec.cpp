#include "tmux_exec.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "cli.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/run_as.hpp"

extern char** environ;

namespace tgcli {

namespace {

// A hostile server must not hang `tmuxguard reload`; every command here is
// quick on a healthy server.
constexpr int kTimeoutMs = 15000;
constexpr std::size_t kMaxOutput = 1U << 20U;

// The caller's TERM if it is a plain terminal name, else "screen".
std::string term_pick()
{
    const char* t = std::getenv("TERM");
    return (t != nullptr && tg::name_is_valid_term(t)) ? t : "screen";
}

// Root calling: a fresh environment of the owner's. The owner calling: its
// own environment without TMUX (it is the owner's own business), TZ
// included.
std::vector<std::string> tmux_env_build(const Account& owner, bool drop)
{
    std::vector<std::string> env;
    if (!drop) {
        for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
            if (std::strncmp(*e, "TMUX=", 5) != 0)
                env.emplace_back(*e);
        }
        if (caller_time_zone())
            env.push_back("TZ=" + *caller_time_zone());
        return env;
    }
    env = {"HOME=" + owner.home,      "USER=" + owner.name, "LOGNAME=" + owner.name,
           "SHELL=" + owner.shell,    "PATH=/usr/bin:/bin", "TERM=" + term_pick(),
           "LANG=C.UTF-8"};
    return env;
}

// tmux [-N] -S SOCKET ARGS...
std::vector<std::string> tmux_argv_build(const std::string& tmux, const tg::CompiledShare& share,
                                         const std::vector<std::string>& args, TmuxStart start)
{
    std::vector<std::string> argv{tmux};
    if (start == TmuxStart::never)
        argv.emplace_back("-N");
    argv.emplace_back("-S");
    argv.push_back(share.socket);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

// The plan for running tmux as `owner`; refuses a caller that is neither
// root nor the owner.
tg::Result<tg::RunAsPlan> child_plan_build(const std::string& tmux, const tg::CompiledShare& share,
                                       const Account& owner, const std::vector<std::string>& args,
                                       TmuxStart start)
{
    tg::RunAsPlan p;
    p.drop = caller_is_root();
    if (!p.drop && (::getuid() != owner.uid || ::geteuid() != owner.uid))
        return tg::fail("not-owner", 0, share.name, "only the owner or root may run tmux for it");
    if (tg::Result<void> ok = tg::check_trusted_file(tmux); !ok)
        return tg::fail("tmux-untrusted", ok.error().err, tmux, ok.error().message());
    p.uid = owner.uid;
    p.gid = owner.gid;
    p.groups = nss_account_groups(owner);
    p.program = tmux;
    p.dir = owner.home;
    p.argv = tmux_argv_build(tmux, share, args, start);
    p.env = tmux_env_build(owner, p.drop);
    p.timeout_ms = kTimeoutMs;
    p.max_output = kMaxOutput;
    return p;
}

}  // namespace

// Contract for tmux_run_as(), the only place the CLI starts a tmux client
// aimed at a share's server. It MUST:
//  1. run the client as the share's owner through tg::run_as (run_as.hpp:
//     ids dropped for good and proved when the caller is root, else only
//     the owner itself may call; nothing of the caller's reaches the child:
//     no descriptors, no controlling terminal, default signals);
//  2. build the environment from nothing for root (HOME USER LOGNAME SHELL
//     of the owner, PATH=/usr/bin:/bin, a valid TERM or "screen",
//     LANG=C.UTF-8); the owner keeps its own environment minus TMUX;
//  3. chdir to the owner's home as the owner, else "/";
//  4. exec the configured tmux only if it is a trusted (root-owned, not
//     group/other writable) file, with argv built here: -N unless starting
//     a server, and always -S SOCKET; nothing goes through a shell;
//  5. bound the run: SIGKILL after kTimeoutMs or kMaxOutput bytes, so a
//     hostile server cannot hang or flood the caller;
//  6. return the exit status and the output as data, never printed raw.
tg::Result<TmuxResult> tmux_run_as(const std::string& tmux, const tg::CompiledShare& share,
                                   const Account& owner, const std::vector<std::string>& args,
                                   TmuxStart start)
{
    tg::Result<tg::RunAsPlan> plan = child_plan_build(tmux, share, owner, args, start);
    if (!plan)
        return std::unexpected(plan.error());
    tg::Result<tg::RunAsResult> r = tg::run_as(*plan);
    if (!r) {
        tg::Error e = r.error();
        if (e.reason == "run-timeout")
            e.reason = "tmux-timeout";
        else if (e.reason == "run-output-too-large")
            e.reason = "tmux-output-too-large";
        return std::unexpected(e);
    }
    return TmuxResult{r->status, std::move(r->out), std::move(r->err)};
}

// tmux_run_as()'s plan for a socket that need not be a share's, with a
// shorter deadline; the same error codes.
tg::Result<TmuxResult> tmux_query_as(const std::string& tmux, const std::string& socket,
                                     const Account& owner, const std::vector<std::string>& args,
                                     int timeout_ms)
{
    const tg::CompiledShare target{path_basename(socket), owner.uid, socket};
    tg::Result<tg::RunAsPlan> plan = child_plan_build(tmux, target, owner, args, TmuxStart::never);
    if (!plan)
        return std::unexpected(plan.error());
    plan->timeout_ms = std::clamp(timeout_ms, 1, kTimeoutMs);
    tg::Result<tg::RunAsResult> r = tg::run_as(*plan);
    if (!r) {
        tg::Error e = r.error();
        if (e.reason == "run-timeout")
            e.reason = "tmux-timeout";
        else if (e.reason == "run-output-too-large")
            e.reason = "tmux-output-too-large";
        return std::unexpected(e);
    }
    return TmuxResult{r->status, std::move(r->out), std::move(r->err)};
}

}  // namespace tgcli
