// `tmuxguard audit [PATH...] [--json]`: who can get into which tmux on this
// machine right now (docs/cli.md). main() here reads as the stages of
// audit.hpp; each lives in its own file.
#include <algorithm>
#include <ctime>

#include "audit.hpp"
#include "cli.hpp"
#include "tmuxguard/paths.hpp"

namespace tgcli {

namespace {

constexpr const char* kAudit = "audit";

// The compiled policy, if it can be read: shares, gate, tmux, runtime dir.
// Without it audit still runs and says what it could not judge.
std::optional<tg::CompiledPolicy> audit_policy_load(std::vector<std::string>& limits)
{
    tg::Result<tg::CompiledPolicy> c = compiled_policy_load();
    if (!c) {
        limits.push_back("no compiled policy (" + c.error().message() +
                         "): shares, the gate group and access lists are not judged");
        return std::nullopt;
    }
    return std::move(*c);
}

// Exit status: 1 when any finding is high.
int audit_status(const std::vector<audit::Finding>& findings)
{
    for (const audit::Finding& f : findings) {
        if (f.severity == audit::Severity::high)
            return kExitRefused;
    }
    return kExitOk;
}

}  // namespace

// Discover, inspect, reach, query, judge, report.
int cmd_audit(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{.json = true});
    if (!a) {
        err_line(kAudit, a.error().detail);
        return kExitUsage;
    }
    std::vector<std::string> limits;
    const std::optional<tg::CompiledPolicy> policy = audit_policy_load(limits);
    const tg::CompiledPolicy* c = policy ? &*policy : nullptr;
    tg::Result<audit::Discovery> found = audit::discover(a->operands, c);
    if (!found) {
        err_line(kAudit, found.error().message());
        return kExitSystem;
    }
    limits.insert(limits.end(), found->limits.begin(), found->limits.end());
    audit::Inodes inodes;
    std::vector<audit::Socket> sockets = audit::inspect(*found, c, inodes, limits);
    const std::vector<audit::Principal> principals =
        audit::principals_build(c != nullptr ? std::optional<gid_t>(c->gate_gid) : std::nullopt);
    audit::reach_compute(sockets, inodes, principals, limits);
    audit::query_servers(sockets, c != nullptr ? c->tmux : tg::paths::default_tmux, limits);
    const std::vector<audit::Finding> findings =
        audit::findings_judge(sockets, c, principals, std::time(nullptr), limits);
    std::sort(sockets.begin(), sockets.end(),
              [](const audit::Socket& x, const audit::Socket& y) { return x.path < y.path; });
    if (a->json)
        json_out_line(audit::report_json(sockets, findings, limits));
    else
        audit::report_print(sockets, findings, limits);
    return audit_status(findings);
}

}  // namespace tgcli
