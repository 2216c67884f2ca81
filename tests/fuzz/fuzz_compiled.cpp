// Fuzz target: the compiled-policy reader that the setgid wrapper runs on
// every attach (tg::compiled_parse, with and without only_share/only_uid).
//
// Input: the text of a compiled policy (compiled.hpp's format).
//
// Properties:
//  C1 any text: both reads return a policy or a "policy-invalid" error;
//  C2 a text the full read accepts serializes to a text that it accepts
//     again and that serializes to itself (a fixed point);
//  C3 differential: for every share the text names (and one it does not),
//     each uid it names and no uid, the filtered read accepts the text and
//     returns exactly the full read's view of that share: the same head,
//     the rules of the share and of "*", its share record, the user record;
//     and decide() over both gives the same verdict, mode, reason and rule,
//     keeping the documented decision rules (compiled_checks.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "compiled_checks.hpp"
#include "fuzz.hpp"
#include "tmuxguard/compiled.hpp"

namespace {

// The second field of the first "rule " or "share " line, for a filtered
// read of a text the full read refuses.
std::string share_guess(std::string_view text)
{
    for (std::string_view kind : {"\nrule ", "\nshare "}) {
        std::size_t at = text.find(kind);
        if (at == std::string_view::npos)
            continue;
        std::string_view rest = text.substr(at + kind.size());
        return std::string(rest.substr(0, rest.find_first_of(" \n")));
    }
    return "ops";
}

void refusal_check(const tg::Error& e, std::string_view text)
{
    FUZZ_CHECK(e.reason == "policy-invalid", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    tgfuzz::timezone_fix();
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    // C1
    const std::string guess = share_guess(text);
    for (std::optional<uid_t> uid : {std::optional<uid_t>{}, std::optional<uid_t>{1000}}) {
        auto part = tg::compiled_parse(text, guess, uid);
        if (!part)
            refusal_check(part.error(), text);
    }
    auto full = tg::compiled_parse(text);
    if (!full) {
        refusal_check(full.error(), text);
        return 0;
    }

    // C2
    const std::string again = tg::compiled_serialize(*full);
    auto reread = tg::compiled_parse(again);
    if (!reread)
        tgfuzz::property_fail(("serialized policy refused: " + reread.error().message()).c_str(), again);
    FUZZ_CHECK(tg::compiled_serialize(*reread) == again, again);

    // C3
    tgfuzz::compiled_text_check(text, *full, 1767225600 + static_cast<std::time_t>(size) * 7919);
    return 0;
}
