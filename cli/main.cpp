// tmuxguard: the admin and owner CLI. main() sanitises the process, then
// dispatches to one command; see docs/cli.md.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "tmuxguard/paths.hpp"

namespace {

using Handler = int (*)(const std::vector<std::string>&);

struct Command {
    std::string_view name;
    Handler run;
    std::string_view usage;
    std::string_view summary;
};

constexpr Command kCommands[] = {
    {"check-policy", tgcli::cmd_check_policy, "check-policy [FILE] [--json]",
     "parse and resolve the policy, print every error as FILE:LINE: message"},
    {"explain", tgcli::cmd_explain, "explain USER SHARE [--at YYYY-MM-DDTHH:MM] [--json]",
     "show the decision for USER attaching to SHARE, and the rule that made it"},
    {"reload", tgcli::cmd_reload, "reload",
     "root: compile and publish the policy, prepare directories, sync every server"},
    {"serve", tgcli::cmd_serve, "serve SHARE",
     "owner or root: start SHARE's tmux server as its owner, hardened and synced"},
    {"sync", tgcli::cmd_sync, "sync [SHARE...] [--json]",
     "owner or root: make each running server's access list equal the policy"},
    {"audit", tgcli::cmd_audit, "audit [PATH...] [--json]",
     "find every tmux server socket and report who can reach it; exit 1 on a high finding"},
    {"lint", tgcli::cmd_lint, "lint [FILE...] [--json]",
     "flag tmux config lines that raise privilege or weaken sharing; exit 1 on findings"},
    {"clients", tgcli::cmd_clients, "clients [SHARE...] [--json]",
     "owner or root: who is attached to which share, read-only or not, since when, idle how long"},
    {"reap", tgcli::cmd_reap, "reap --idle DURATION [--dry-run] [--json]",
     "owner or root: detach idle guests and end dormant sessions, each action logged"},
    {"rotate", tgcli::cmd_rotate, "rotate [SHARE...] [--json]",
     "owner or root: re-create each share's socket, re-apply its ACL, sync its access list"},
    {"grant", tgcli::cmd_grant, "grant USER view|interact SHARE --for DURATION",
     "root: a time-bound grant, written as a policy drop-in and applied with reload"},
    {"revoke", tgcli::cmd_revoke, "revoke USER SHARE",
     "root: remove USER's grant on SHARE, reload, and detach USER"},
    {"log", tgcli::cmd_log, "log show [--since WHEN] [--user USER] [--share SHARE] [--json] | log verify [FILE...] [--json]",
     "root: show decision records; verify the log's hash chain"},
};

// Usage of every command, on `out`.
void usage_print(std::FILE* out)
{
    std::fprintf(out, "usage: tmuxguard COMMAND [ARGS]\n       tmuxguard --help | --version\n\n");
    for (const Command& c : kCommands)
        std::fprintf(out, "  tmuxguard %.*s\n      %.*s\n", static_cast<int>(c.usage.size()),
                     c.usage.data(), static_cast<int>(c.summary.size()), c.summary.data());
    std::fprintf(out, "\nExit status: 0 success or allow, 1 refused or deny, 2 usage or policy "
                      "error, 3 system error.\n");
}

// Whether the arguments ask for help (before any "--").
bool args_want_help(const std::vector<std::string>& args)
{
    for (const std::string& a : args) {
        if (a == "--")
            return false;
        if (a == "--help" || a == "-h")
            return true;
    }
    return false;
}

// Descriptors 0-2 open (on /dev/null if closed), so no file we open later
// becomes someone's stdout; files we create get 0644/0755 at most; local
// time is the system's, as in the wrapper.
void process_sanitise()
{
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", O_RDWR) != fd)
            _exit(tgcli::kExitSystem);
    }
    ::umask(022);
    tgcli::time_zone_system_use();
}

}  // namespace

int main(int argc, char** argv)
{
    process_sanitise();
    std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
    if (args.empty()) {
        usage_print(stderr);
        return tgcli::kExitUsage;
    }
    const std::string cmd = args.front();
    args.erase(args.begin());
    if (cmd == "--help" || cmd == "-h") {
        usage_print(stdout);
        return tgcli::kExitOk;
    }
    if (cmd == "--version") {
        std::printf("tmuxguard %s\n", tg::paths::version);
        return tgcli::kExitOk;
    }
    for (const Command& c : kCommands) {
        if (c.name != cmd)
            continue;
        if (args_want_help(args)) {
            std::printf("usage: tmuxguard %.*s\n  %.*s\n", static_cast<int>(c.usage.size()),
                        c.usage.data(), static_cast<int>(c.summary.size()), c.summary.data());
            return tgcli::kExitOk;
        }
        return c.run(args);
    }
    tgcli::err_line({}, "unknown command '" + cmd + "' (try 'tmuxguard --help')");
    return tgcli::kExitUsage;
}
