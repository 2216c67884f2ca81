// tmuxguard check-policy [FILE] [--json]
// tmuxguard explain USER SHARE [--at YYYY-MM-DDTHH:MM] [--json]
//
// Both read the text policy as root wrote it and resolve names through NSS;
// neither changes anything, so anyone may run them.
#include <unistd.h>

#include <climits>
#include <ctime>

#include "cli.hpp"
#include "nss.hpp"
#include "tmuxguard/decide.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/paths.hpp"
#include "tmuxguard/policy.hpp"

namespace tgcli {

namespace {

constexpr const char* kCheck = "check-policy";
constexpr const char* kExplain = "explain";

// A relative FILE is taken from the current directory.
std::string path_absolute(const std::string& file)
{
    if (file.empty() || file[0] == '/')
        return file;
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr)
        return file;
    std::string dir = cwd;
    return (dir == "/" ? "" : dir) + "/" + file;
}

// One file only (no drop-ins), read as policy_load() reads each file.
tg::Policy policy_load_single(const std::string& file)
{
    tg::Policy p = tg::policy_defaults();
    tg::Result<std::string> text = trusted_file_read(file);
    if (text)
        tg::policy_parse_text(*text, file, p);
    else
        p.errors.push_back(text_safe(file) + ":0: cannot read policy: " + text.error().message());
    tg::policy_check_whole(p);
    return p;
}

// FILE alone, or the configured policy and its drop-in directory.
tg::Policy policy_load_for(const std::vector<std::string>& operands)
{
    if (operands.empty())
        return tg::policy_load(tg::paths::policy_file, tg::paths::policy_dir);
    return policy_load_single(path_absolute(operands[0]));
}

// Human or JSON report of a checked policy; returns the exit status.
int check_report(const tg::Policy& p, bool json)
{
    if (json) {
        json_out_line("{\"valid\":" + std::string(p.valid() ? "true" : "false") +
                 ",\"errors\":" + json_string_array(p.errors) +
                 ",\"shares\":" + std::to_string(p.shares.size()) +
                 ",\"rules\":" + std::to_string(p.rules.size()) + "}");
    } else if (p.valid()) {
        out_line("policy OK: " + std::to_string(p.shares.size()) + " shares, " +
                 std::to_string(p.rules.size()) + " rules");
    } else {
        for (const std::string& e : p.errors)
            out_line(e);
    }
    return p.valid() ? kExitOk : kExitUsage;
}

// The explained request: who, which share, when.
struct ExplainQuery {
    Account account;
    std::string share;
    std::time_t at = 0;
};

// Validates the operands and --at; prints the error and returns nullopt.
std::optional<ExplainQuery> explain_query_build(const Args& a)
{
    if (a.operands.size() != 2) {
        err_line(kExplain, "usage: tmuxguard explain USER SHARE [--at YYYY-MM-DDTHH:MM] [--json]");
        return std::nullopt;
    }
    ExplainQuery q;
    q.share = a.operands[1];
    if (!tg::name_is_valid_share(q.share)) {
        err_line(kExplain, "invalid share name '" + q.share + "'");
        return std::nullopt;
    }
    std::int64_t at = std::time(nullptr);
    if (a.at && !tg::policy_parse_local_time(*a.at, at)) {
        err_line(kExplain, "invalid time '" + *a.at + "' (want YYYY-MM-DDTHH:MM)");
        return std::nullopt;
    }
    q.at = static_cast<std::time_t>(at);
    std::optional<Account> acc;
    if (tg::name_is_valid_account(a.operands[0]))
        acc = nss_account_by_name(a.operands[0]);
    if (!acc) {
        err_line(kExplain, "unknown user '" + a.operands[0] + "'");
        return std::nullopt;
    }
    q.account = *acc;
    return q;
}

// "allow interact (permitted by FILE:LINE)", "deny (no-rule)", ...
std::string explain_text(const tg::CompiledPolicy& c, const tg::Decision& d)
{
    std::string src = d.rule != nullptr ? c.rule_source(*d.rule) : std::string();
    if (d.verdict == tg::Verdict::allow) {
        std::string head = "allow " + std::string(tg::mode_name(d.mode));
        if (d.reason == "permitted" && !src.empty())
            return head + " (permitted by " + src + ")";
        return head + " (" + d.reason + ")";
    }
    return "deny (" + d.reason + (src.empty() ? "" : ": " + src) + ")";
}

// {"user":..,"uid":..,"share":..,"decision":..,"mode":..,"reason":..,"rule":..,"at":..}
std::string explain_json(const tg::CompiledPolicy& c, const ExplainQuery& q, const tg::Decision& d)
{
    std::string rule = d.rule != nullptr ? json_quote(c.rule_source(*d.rule)) : "null";
    return "{\"user\":" + json_quote(q.account.name) + ",\"uid\":" + std::to_string(q.account.uid) +
           ",\"share\":" + json_quote(q.share) + ",\"decision\":" +
           json_quote(d.verdict == tg::Verdict::allow ? "allow" : "deny") +
           ",\"mode\":" + json_quote(tg::mode_name(d.mode)) + ",\"reason\":" + json_quote(d.reason) +
           ",\"rule\":" + rule + ",\"at\":" + json_quote(time_local_format(q.at)) + "}";
}

}  // namespace

// Parses and resolves the policy; prints every error as FILE:LINE: message.
int cmd_check_policy(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{.json = true});
    if (!a || a->operands.size() > 1) {
        err_line(kCheck, a ? "usage: tmuxguard check-policy [FILE] [--json]" : a.error().detail);
        return kExitUsage;
    }
    tg::Policy p = policy_load_for(a->operands);
    NssResolver nss;
    (void)tg::policy_compile(p, nss, 0);  // only for the errors it appends
    return check_report(p, a->json);
}

// Decides USER on SHARE at a time with the text policy compiled in memory.
int cmd_explain(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{.json = true, .at = true});
    if (!a) {
        err_line(kExplain, a.error().detail);
        return kExitUsage;
    }
    std::optional<ExplainQuery> q = explain_query_build(*a);
    if (!q)
        return kExitUsage;
    tg::Policy p = tg::policy_load(tg::paths::policy_file, tg::paths::policy_dir);
    NssResolver nss;
    tg::CompiledPolicy c = tg::policy_compile(p, nss, 0);
    tg::Caller who{q->account.uid, q->account.gid, nss_account_groups(q->account)};
    tg::Decision d = tg::decide(c, who, q->share, tg::Mode::interact, q->at);
    if (a->json)
        json_out_line(explain_json(c, *q, d));
    else
        out_line(explain_text(c, d));
    if (!p.valid()) {
        for (const std::string& e : p.errors)
            err_line(kExplain, "policy invalid: " + e);
        return kExitUsage;
    }
    return d.verdict == tg::Verdict::allow ? kExitOk : kExitRefused;
}

}  // namespace tgcli
