// The compiled policy: numeric ids only, written by `tmuxguard reload` (root,
// NSS available) and read by the static wrapper (no NSS, no dlopen).
//
// Format, version 1: text, one record per line, fields separated by one
// space, no field contains a blank or a control byte (names and paths are
// validated before they get here; the `invalid` message is escaped).
//
//   tmuxguard-compiled 1
//   gate GID                          gid of the gate group (the wrapper's group)
//   log PATH
//   syslog 0|1
//   tmux PATH
//   runtime-dir PATH
//   file IDX PATH                     source file IDX, for FILE:LINE in decisions
//   invalid MESSAGE                   present iff the text policy had an error
//   -- the sorted block: every line below in byte order --
//   rule SHARE|* permit|deny none|view|interact user|group|any ID FROM TO DAYS UNTIL FILEIDX LINE
//   share NAME OWNER_UID SOCKET
//   user UID NAME HOME SHELL          account facts for the wrapper's environment
//   end                               last line; a file without it is truncated
//
// FROM/TO are minutes (-1: none), DAYS the mask of policy.hpp, UNTIL epoch
// seconds (0: none), ID 0 for `any`. The sorted block puts all lines of one
// share, of "*" and of one uid next to each other, so the wrapper finds them
// by bisection; readers put rules back in file order by FILEIDX and LINE.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/error.hpp"
#include "tmuxguard/policy.hpp"

namespace tg {

struct CompiledRule {
    std::string share;  // name or "*"
    RuleKind kind = RuleKind::deny;
    Mode mode = Mode::none;
    WhoKind who_kind = WhoKind::user;
    std::uint32_t id = 0;
    int minute_from = -1;
    int minute_to = -1;
    std::uint8_t days = 0;
    std::int64_t until = 0;
    std::uint32_t file_index = 0;
    std::uint32_t line = 0;
};

struct CompiledShare {
    std::string name;
    uid_t owner_uid = 0;
    std::string socket;  // always absolute, default already expanded
};

struct AccountInfo {
    uid_t uid = 0;
    std::string name;
    std::string home;
    std::string shell;
};

struct CompiledPolicy {
    gid_t gate_gid = 0;
    std::string log;
    bool syslog = true;
    std::string tmux;
    std::string runtime_dir;
    std::vector<std::string> files;
    std::string invalid;  // non-empty: every decision is deny (policy-invalid)
    std::vector<AccountInfo> users;
    std::vector<CompiledShare> shares;
    std::vector<CompiledRule> rules;

    [[nodiscard]] const CompiledShare* find_share(std::string_view name) const;
    [[nodiscard]] const AccountInfo* find_user(uid_t uid) const;
    // "FILE:LINE" of a rule, or "?" when the index is out of range.
    [[nodiscard]] std::string rule_source(const CompiledRule& r) const;
};

// Name service used by compile; the CLI passes one backed by NSS, tests a table.
class Resolver {
public:
    virtual ~Resolver() = default;
    virtual std::optional<uid_t> user_id(const std::string& name) = 0;
    virtual std::optional<gid_t> group_id(const std::string& name) = 0;
    virtual std::optional<AccountInfo> account(uid_t uid) = 0;
};

// Turns a parsed policy into numbers. Names that do not resolve are errors
// ("FILE:LINE: unknown user 'x'"), appended to `p.errors`; if the policy has
// any error the result has `invalid` set to the first one and no rules.
// `users` gets an AccountInfo for every account the policy names.
[[nodiscard]] CompiledPolicy policy_compile(Policy& p, Resolver& r, gid_t gate_gid);

[[nodiscard]] std::string compiled_serialize(const CompiledPolicy& c);

// Parses a compiled policy. Without `only_share`, every line is checked
// (`only_uid` is then ignored). With `only_share` set, reads only that share
// and the rules for it and for "*" (what the wrapper needs), and only the
// user entry for `only_uid` (all users when unset), found by bisecting the
// sorted block: lines it does not need are not read. A malformed or
// truncated text is an error (reason "policy-invalid"). Rules come back in
// file order.
[[nodiscard]] Result<CompiledPolicy> compiled_parse(std::string_view text,
                                                    std::optional<std::string_view> only_share = {},
                                                    std::optional<uid_t> only_uid = {});

}  // namespace tg
