// The decision engine: default deny, a matching deny wins, otherwise the most
// permissive matching permit whose time conditions hold; the owner always has
// interact on its own shares; a request can only lower the mode.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/compiled.hpp"

namespace tg {

enum class Verdict : std::uint8_t { deny = 0, allow = 1 };

struct Caller {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups
};

// Reason codes (stable, logged): allow: "owner", "permitted";
// deny: "no-rule", "denied-by-rule", "outside-hours" (hours or days),
// "expired" (until has passed), "policy-invalid".
struct Decision {
    Verdict verdict = Verdict::deny;
    Mode mode = Mode::none;
    std::string reason = "no-rule";
    const CompiledRule* rule = nullptr;  // the rule that decided, if any
};

// `requested` is Mode::interact for a plain attach, Mode::view for `-r`.
// `now` is the decision time (epoch seconds), evaluated in local time.
[[nodiscard]] Decision decide(const CompiledPolicy& p, const Caller& who,
                              std::string_view share, Mode requested, std::time_t now);

// Whether a rule's time conditions hold at `now` (local time); exposed for tests.
[[nodiscard]] bool rule_time_holds(const CompiledRule& r, std::time_t now);

}  // namespace tg
