// tmuxguard grant USER view|interact SHARE --for DURATION   (root only)
// tmuxguard revoke USER SHARE                                (root only)
//
// A grant is a policy drop-in, policy.d/grant-SHARE+USER.conf, holding one
// `permit MODE USER on SHARE until T` (grant_file.hpp), applied with reload.
// Both commands, under the lock of policy.d:
//  1. check what they can before touching a file (names, the account, the
//     current policy, the share, the installed wrapper that reload needs);
//  2. prune expired grant files of ours (dead text), never someone else's;
//  3. write or remove the one file, then run reload (validate, compile,
//     publish, sync: sync's `server-access -d` detaches a revoked guest);
//  4. if reload finds the resulting policy invalid, put the file back as it
//     was, reload again, and exit 2: a grant never leaves the policy broken;
//  5. log one decision record ("grant"/"revoke") once the change is live.
#include <unistd.h>

#include <ctime>

#include "cli.hpp"
#include "grant_file.hpp"
#include "nss.hpp"
#include "tmuxguard/decide.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/paths.hpp"
#include "tmuxguard/policy.hpp"
#include "tmuxguard/runtime_dir.hpp"

namespace tgcli {

namespace {

constexpr const char* kGrant = "grant";
constexpr const char* kRevoke = "revoke";
constexpr std::chrono::seconds kMinGrant{60};

// A checked grant request.
struct GrantRequest {
    std::string user;
    std::string share;
    tg::Mode mode = tg::Mode::none;
    std::chrono::seconds asked{0};
};

// The decision engine's answer for an account now, as explain gives it.
struct AccessNow {
    bool valid = false;  // the text policy is valid
    tg::Verdict verdict = tg::Verdict::deny;
    tg::Mode mode = tg::Mode::none;
    std::string reason;
    std::string rule;  // FILE:LINE, empty when no rule decided
};

// "view"/"interact" -> the mode; anything else -> none.
tg::Mode mode_parse(std::string_view s)
{
    return s == "view" ? tg::Mode::view : s == "interact" ? tg::Mode::interact : tg::Mode::none;
}

// --for: required, a duration, at least a minute; the problem or "".
std::string grant_duration_check(const std::optional<std::string>& text, std::chrono::seconds& out)
{
    if (!text)
        return "--for DURATION is required (a grant always ends; e.g. --for 2h)";
    tg::Result<std::chrono::seconds> d = duration_parse(*text);
    if (!d)
        return d.error().detail;
    if (*d < kMinGrant)
        return "duration '" + *text + "' is shorter than a minute, the resolution of the policy's until";
    out = *d;
    return {};
}

// Syntax of grant's operands and --for; prints the error, nullopt on any.
std::optional<GrantRequest> grant_request_parse(const Args& a)
{
    if (a.operands.size() != 3) {
        err_line(kGrant, "usage: tmuxguard grant USER view|interact SHARE --for DURATION");
        return std::nullopt;
    }
    GrantRequest g{a.operands[0], a.operands[2], mode_parse(a.operands[1]), std::chrono::seconds(0)};
    std::string problem;
    if (g.mode == tg::Mode::none)
        problem = "mode '" + a.operands[1] + "' is not view or interact";
    else if (!tg::name_is_valid_account(g.user))
        problem = "unknown user '" + g.user + "'";
    else if (!tg::name_is_valid_share(g.share))
        problem = "invalid share name '" + g.share + "'";
    else
        problem = grant_duration_check(a.value("--for"), g.asked);
    if (!problem.empty()) {
        err_line(kGrant, problem);
        return std::nullopt;
    }
    return g;
}

// The text policy loaded and compiled in memory (NSS), as check-policy does.
tg::CompiledPolicy policy_text_compile(tg::Policy& p)
{
    p = tg::policy_load(tg::paths::policy_file, tg::paths::policy_dir);
    NssResolver nss;
    return tg::policy_compile(p, nss, 0);
}

// decide() for `a` on `share` at `now` with the text policy, as explain does.
AccessNow access_now(const Account& a, const std::string& share, std::time_t now)
{
    tg::Policy p;
    tg::CompiledPolicy c = policy_text_compile(p);
    tg::Caller who{a.uid, a.gid, nss_account_groups(a)};
    tg::Decision d = tg::decide(c, who, share, tg::Mode::interact, now);
    return AccessNow{p.valid(), d.verdict, d.mode, d.reason,
                     d.rule != nullptr ? c.rule_source(*d.rule) : std::string()};
}

// Clause 1 for grant: a valid current policy that defines SHARE, which USER
// does not own. Prints the problem; returns the exit status, or nullopt.
std::optional<int> grant_policy_check(const GrantRequest& g, const Account& a)
{
    tg::Policy p;
    tg::CompiledPolicy c = policy_text_compile(p);
    if (!p.valid()) {
        for (const std::string& e : p.errors)
            err_line(kGrant, "policy invalid: " + e);
        err_line(kGrant, "the current policy is invalid: fix it first (nothing was written)");
        return kExitUsage;
    }
    const tg::CompiledShare* s = c.find_share(g.share);
    if (s == nullptr) {
        err_line(kGrant, "unknown share '" + g.share + "' (the policy defines no such share)");
        return kExitUsage;
    }
    if (s->owner_uid == a.uid) {
        err_line(kGrant, g.user + " owns " + g.share + " and always has interact on it");
        return kExitUsage;
    }
    return std::nullopt;
}

// The gate check reload starts with, done before any file is written.
std::optional<int> wrapper_check(std::string_view command)
{
    if (tg::Result<gid_t> gate = tg::gate_gid_of_wrapper(tg::paths::attach_path); !gate) {
        err_line(command, gate.error().detail);
        return kExitSystem;
    }
    return std::nullopt;
}

// policy.d opened and locked; prints the error.
std::optional<GrantDir> grant_dir_get(std::string_view command)
{
    tg::Result<GrantDir> d = grant_dir_open(tg::paths::policy_dir);
    if (!d) {
        err_line(command, "policy drop-in directory: " + d.error().message());
        return std::nullopt;
    }
    return std::move(*d);
}

// Clause 2: removes expired grant files but `keep`; prints each. Whether
// anything was removed (the compiled policy then lists a missing source,
// which the wrapper refuses until reload runs: the caller must reload).
bool expired_prune(const GrantDir& d, std::time_t now, const std::string& keep,
                   std::string_view command)
{
    std::vector<std::string> errors;
    std::vector<GrantPruned> pruned = grant_files_prune(d, now, keep, errors);
    for (const std::string& e : errors)
        err_line(command, "warning: pruning expired grants: " + e);
    for (const GrantPruned& p : pruned)
        out_line("pruned expired grant of " + std::string(tg::mode_name(p.rule.mode)) + " on " +
                 p.rule.share + " to " + p.rule.user + " (until " + p.rule.until + ", " + p.path + ")");
    return !pruned.empty();
}

// A file of the pair that grant did not write: refused, left alone.
int foreign_refuse(const std::string& path, const GrantFile& f, std::string_view command)
{
    err_line(command, path + " was not written by 'tmuxguard grant' (" + f.why + "): left alone");
    return kExitRefused;
}

// Clause 4: `prev` back under `name` (rewritten, or removed when it was
// absent), reload again. Returns the exit status.
int change_undo(const GrantDir& d, const std::string& name, const GrantFile& prev,
                std::string_view command)
{
    const std::string path = d.path + "/" + name;
    tg::Result<void> back = prev.state == GrantFileState::absent
                                ? grant_file_remove(d, name)
                                : grant_file_write(d, name, prev.text);
    if (!back) {
        err_line(command, "the resulting policy is invalid, and " + path +
                              " cannot be put back: " + back.error().message());
        return kExitSystem;
    }
    int again = cmd_reload({});
    err_line(command, "the resulting policy is invalid (errors above): " + path +
                          (prev.state == GrantFileState::absent ? " removed" : " put back as it was") +
                          " and the policy reloaded" +
                          (again == kExitOk ? "" : ", which failed too (exit " + std::to_string(again) + ")"));
    return again == kExitSystem ? kExitSystem : kExitUsage;
}

// The record of a grant or revoke, with the share's owner and socket from
// the compiled policy that reload just published.
void change_log(tg::DecisionRecord r, std::string_view command)
{
    tg::Result<tg::CompiledPolicy> c = compiled_policy_load();
    if (!c) {
        err_line(command, "warning: cannot write the decision log: " + c.error().message());
        return;
    }
    if (const tg::CompiledShare* s = c->find_share(r.share)) {
        r.owner_uid = s->owner_uid;
        r.socket = s->socket;
    }
    cli_log_event(*c, r, command);
}

// "granted view on pair to alice until T (PATH[, replaced ...])" and, when
// the minute resolution shortened it, how long it really lasts.
void grant_report(const GrantRequest& g, const GrantRule& rule, const std::string& path,
                  const GrantFile& prev, std::time_t now)
{
    std::string replaced;
    if (prev.state == GrantFileState::ours)
        replaced = prev.rule ? ", replaced " + std::string(tg::mode_name(prev.rule->mode)) +
                                   " until " + prev.rule->until
                             : ", replaced";
    out_line("granted " + std::string(tg::mode_name(g.mode)) + " on " + g.share + " to " + g.user +
             " until " + rule.until + " (" + path + replaced + ")");
    std::chrono::seconds lasts(rule.until_epoch - static_cast<std::int64_t>(now));
    if (lasts != g.asked)
        out_line("ends in " + duration_format(lasts) + ", not " + duration_format(g.asked) +
                 ": until has minute resolution and is rounded down");
}

// A deny rule wins over any permit: say so when one keeps USER out.
void grant_effect_warn(const GrantRequest& g, const Account& a, std::time_t now)
{
    AccessNow n = access_now(a, g.share, now);
    if (n.valid && n.verdict == tg::Verdict::deny)
        err_line(kGrant, "warning: " + g.user + " is still refused on " + g.share + " (" + n.reason +
                             (n.rule.empty() ? "" : ": " + n.rule) + "): a deny rule wins over a grant");
}

// "USER still has MODE on SHARE by FILE:LINE" when access remains.
void access_remaining_warn(const std::string& user, const std::optional<Account>& a,
                           const std::string& share)
{
    if (!a)
        return;
    AccessNow n = access_now(*a, share, std::time(nullptr));
    if (!n.valid || n.verdict != tg::Verdict::allow)
        return;
    std::string how = n.rule.empty() ? " as its " + n.reason : " by " + n.rule;
    err_line(kRevoke, "warning: " + user + " still has " + std::string(tg::mode_name(n.mode)) +
                          " on " + share + how);
}

// The "grant" record: the grantee, the share, the drop-in's rule.
void grant_log(const GrantRequest& g, const Account& a, const GrantRule& rule,
               const std::string& path)
{
    tg::DecisionRecord r;
    r.event = "grant";
    r.allow = true;
    r.reason = "granted";
    r.uid = a.uid;
    r.share = g.share;
    r.mode = std::string(tg::mode_name(g.mode));
    r.rule = path + ":" + std::to_string(kGrantRuleLine);
    r.detail = "until " + rule.until + " by uid " + std::to_string(::getuid());
    change_log(std::move(r), kGrant);
}

// Steps 2 to 5 of grant, under the lock.
int grant_apply(const GrantRequest& g, const Account& a, const GrantDir& d)
{
    const std::string name = grant_file_name(g.share, g.user);
    const std::string path = d.path + "/" + name;
    tg::Result<GrantFile> prev = grant_file_read(d, name, g.share, g.user);
    if (!prev) {
        err_line(kGrant, prev.error().message());
        return kExitSystem;
    }
    if (prev->state == GrantFileState::foreign)
        return foreign_refuse(path, *prev, kGrant);
    std::time_t now = std::time(nullptr);
    tg::Result<GrantRule> rule = grant_until_compute(now, g.asked);
    if (!rule) {
        err_line(kGrant, rule.error().message());
        return kExitSystem;
    }
    *rule = GrantRule{g.mode, g.user, g.share, rule->until, rule->until_epoch};
    bool pruned = expired_prune(d, now, name, kGrant);
    if (tg::Result<void> w = grant_file_write(d, name, grant_text_format(*rule, ::getuid(), now, g.asked));
        !w) {
        err_line(kGrant, "cannot write the grant: " + w.error().message());
        if (pruned && cmd_reload({}) != kExitOk)  // the pruned files are gone either way
            err_line(kGrant, "reload after pruning failed (above)");
        return kExitSystem;
    }
    int status = cmd_reload({});
    if (status == kExitUsage)
        return change_undo(d, name, *prev, kGrant);
    grant_report(g, *rule, path, *prev, now);
    if (status != kExitOk)
        err_line(kGrant, "reload reported errors (above); the grant file is in place");
    grant_effect_warn(g, a, std::time(nullptr));
    grant_log(g, a, *rule, path);
    return status;
}

// revoke without a grant file: reload if pruning changed policy.d, then exit 1.
int revoke_nothing(const std::string& user, const std::optional<Account>& a,
                   const std::string& share, bool pruned)
{
    int status = pruned ? cmd_reload({}) : kExitOk;
    err_line(kRevoke, "no grant for " + user + " on " + share);
    access_remaining_warn(user, a, share);
    return status == kExitOk ? kExitRefused : status;
}

// The "revoke" record of a removed grant file.
void revoke_log(const std::string& user, const std::optional<Account>& a, const std::string& share,
                const std::string& path, const GrantFile& f)
{
    tg::DecisionRecord r;
    r.event = "revoke";
    r.allow = false;
    r.reason = "revoked";
    r.uid = a ? static_cast<long long>(a->uid) : -1;
    r.share = share;
    r.mode = "none";
    r.rule = path + ":" + std::to_string(kGrantRuleLine);
    std::string what = f.rule ? "grant of " + std::string(tg::mode_name(f.rule->mode)) + " until " +
                                    f.rule->until
                              : "grant";
    r.detail = what + " removed by uid " + std::to_string(::getuid()) +
               (a ? "" : " (user " + user + " has no account)");
    change_log(std::move(r), kRevoke);
}

// Steps 2 to 5 of revoke, under the lock. A revoke needs no account: it
// also cleans up after a deleted one (whose grant makes the policy invalid).
int revoke_apply(const std::string& user, const std::string& share, const GrantDir& d)
{
    std::optional<Account> acc = nss_account_by_name(user);
    const std::string name = grant_file_name(share, user);
    const std::string path = d.path + "/" + name;
    tg::Result<GrantFile> cur = grant_file_read(d, name, share, user);
    if (!cur) {
        err_line(kRevoke, cur.error().message());
        return kExitSystem;
    }
    if (cur->state == GrantFileState::foreign)
        return foreign_refuse(path, *cur, kRevoke);
    bool pruned = expired_prune(d, std::time(nullptr), name, kRevoke);
    if (cur->state == GrantFileState::absent)
        return revoke_nothing(user, acc, share, pruned);
    if (tg::Result<void> rm = grant_file_remove(d, name); !rm) {
        err_line(kRevoke, rm.error().message());
        return kExitSystem;
    }
    int status = cmd_reload({});
    if (status == kExitUsage)
        return change_undo(d, name, *cur, kRevoke);
    out_line("revoked " + (cur->rule ? std::string(tg::mode_name(cur->rule->mode)) + " " : "") +
             "on " + share + " from " + user + " (" + path + " removed)");
    revoke_log(user, acc, share, path, *cur);
    access_remaining_warn(user, acc, share);
    return status;
}

}  // namespace

// Writes a time-bound permit as a drop-in and reloads.
int cmd_grant(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{.values = {"--for"}});
    if (!a) {
        err_line(kGrant, a.error().detail);
        return kExitUsage;
    }
    std::optional<GrantRequest> g = grant_request_parse(*a);
    if (!g)
        return kExitUsage;
    if (!caller_is_root()) {
        err_line(kGrant, "must be run as root");
        return kExitRefused;
    }
    std::optional<Account> acc = nss_account_by_name(g->user);
    if (!acc) {
        err_line(kGrant, "unknown user '" + g->user + "'");
        return kExitUsage;
    }
    if (std::optional<int> bad = wrapper_check(kGrant))
        return *bad;
    std::optional<GrantDir> d = grant_dir_get(kGrant);
    if (!d)
        return kExitSystem;
    // Checked under the lock: the policy a grant is added to is the one it saw.
    if (std::optional<int> bad = grant_policy_check(*g, *acc))
        return *bad;
    return grant_apply(*g, *acc, *d);
}

// Removes USER's grant file on SHARE and reloads (sync detaches USER).
int cmd_revoke(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{});
    if (!a || a->operands.size() != 2) {
        err_line(kRevoke, a ? "usage: tmuxguard revoke USER SHARE" : a.error().detail);
        return kExitUsage;
    }
    const std::string& user = a->operands[0];
    const std::string& share = a->operands[1];
    if (!tg::name_is_valid_account(user) || !tg::name_is_valid_share(share)) {
        err_line(kRevoke, tg::name_is_valid_account(user) ? "invalid share name '" + share + "'"
                                                          : "invalid user name '" + user + "'");
        return kExitUsage;
    }
    if (!caller_is_root()) {
        err_line(kRevoke, "must be run as root");
        return kExitRefused;
    }
    if (std::optional<int> bad = wrapper_check(kRevoke))
        return *bad;
    std::optional<GrantDir> d = grant_dir_get(kRevoke);
    if (!d)
        return kExitSystem;
    return revoke_apply(user, share, *d);
}

}  // namespace tgcli
