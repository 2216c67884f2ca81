// Fuzz target: the policy language, as `tmuxguard reload` runs it.
//
// Input: up to four policy files separated by NUL bytes, parsed in order as
// policy.conf and policy.d/10.conf, 20.conf, 30.conf (tg::policy_parse_text
// into one Policy), then policy_check_whole, policy_compile with a table
// name service (fuzz.hpp) and compiled_serialize: the file the wrapper reads.
//
// Properties (each a crash when broken):
//  P1 every error is "FILE:LINE: message" with FILE one of the inputs, LINE
//     within it, and no byte below 0x20 or 0x7f (policy.cpp contract 2);
//  P2 every rule and share carries a FILE:LINE of the inputs;
//  P3 the compiled policy is invalid exactly when there was an error, then
//     with the first error as its message and no shares, rules or users;
//     otherwise one compiled rule per rule and one share per share;
//  P4 what reload writes, the wrapper can read: compiled_parse of the
//     serialized text succeeds and serializes back to the same text;
//  P5 the wrapper's filtered read of every share sees and decides exactly
//     what the full read does, and decide() keeps the documented rules
//     (compiled_checks.hpp).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "compiled_checks.hpp"
#include "fuzz.hpp"
#include "tmuxguard/compiled.hpp"
#include "tmuxguard/policy.hpp"

namespace {

constexpr const char* kFiles[] = {"/etc/tmuxguard/policy.conf", "/etc/tmuxguard/policy.d/10.conf",
                                  "/etc/tmuxguard/policy.d/20.conf", "/etc/tmuxguard/policy.d/30.conf"};
constexpr gid_t kGate = 990;

std::size_t lines_in(std::string_view text)
{
    std::size_t n = 1;
    for (char c : text)
        n += c == '\n' ? 1 : 0;
    return n;
}

// P1: "FILE:LINE: message", a known FILE, LINE in range, no control byte.
void error_check(const std::string& e, const std::vector<std::string_view>& texts, std::string_view in)
{
    for (char c : e) {
        auto b = static_cast<unsigned char>(c);
        FUZZ_CHECK(b >= 0x20 && b != 0x7f, e);
    }
    bool known = false;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::string head = std::string(kFiles[i]) + ":";
        if (e.rfind(head, 0) != 0)
            continue;
        std::size_t colon = e.find(": ", head.size());
        FUZZ_CHECK(colon != std::string::npos && colon > head.size(), e);
        std::string digits = e.substr(head.size(), colon - head.size());
        FUZZ_CHECK(digits.find_first_not_of("0123456789") == std::string::npos, e);
        FUZZ_CHECK(digits.size() < 10, e);
        std::size_t line = std::stoul(digits);
        FUZZ_CHECK(line >= 1 && line <= lines_in(texts[i]), in);
        known = true;
    }
    FUZZ_CHECK(known, e);
}

// P2: a source position within the inputs.
void source_check(const std::string& file, int line, const std::vector<std::string_view>& texts,
                  std::string_view in)
{
    for (std::size_t i = 0; i < texts.size(); ++i) {
        if (file == kFiles[i]) {
            FUZZ_CHECK(line >= 1 && static_cast<std::size_t>(line) <= lines_in(texts[i]), in);
            return;
        }
    }
    tgfuzz::property_fail("a rule or share names a file that was not read", in);
}

// run.sh seed-compiled: with TG_FUZZ_COMPILED_OUT=DIR, every compiled text
// is also written to DIR, to seed the fuzz_compiled corpus with real output.
void compiled_text_save(const std::string& text)
{
    static const char* dir = std::getenv("TG_FUZZ_COMPILED_OUT");
    if (dir == nullptr)
        return;
    std::ofstream(std::string(dir) + "/from-policy-" +
                  std::to_string(std::hash<std::string>{}(text)))
        << text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    tgfuzz::timezone_fix();
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::vector<std::string_view> texts = tgfuzz::fields_split(in, '\0', 4);

    tg::Policy p = tg::policy_defaults();
    for (std::size_t i = 0; i < texts.size(); ++i)
        tg::policy_parse_text(texts[i], kFiles[i], p);
    tg::policy_check_whole(p);
    tgfuzz::TableResolver names;
    const std::size_t parse_errors = p.errors.size();
    tg::CompiledPolicy c = tg::policy_compile(p, names, kGate);

    for (const std::string& e : p.errors)
        error_check(e, texts, in);
    for (const tg::Rule& r : p.rules)
        source_check(r.file, r.line, texts, in);
    for (const tg::ShareDef& s : p.shares)
        source_check(s.file, s.line, texts, in);

    // P3
    FUZZ_CHECK(p.errors.size() >= parse_errors, in);
    if (!p.valid()) {
        FUZZ_CHECK(c.invalid == p.errors.front(), in);
        FUZZ_CHECK(c.rules.empty() && c.shares.empty() && c.users.empty(), in);
    } else {
        FUZZ_CHECK(c.invalid.empty(), in);
        FUZZ_CHECK(c.rules.size() == p.rules.size() && c.shares.size() == p.shares.size(), in);
    }
    FUZZ_CHECK(c.gate_gid == kGate, in);

    // P4
    const std::string text = tg::compiled_serialize(c);
    compiled_text_save(text);
    auto full = tg::compiled_parse(text);
    if (!full)
        tgfuzz::property_fail(("compiled_parse refused compile's own output: " +
                               full.error().message()).c_str(), text);
    FUZZ_CHECK(tg::compiled_serialize(*full) == text, text);
    FUZZ_CHECK(full->invalid == c.invalid, text);

    // P5
    tgfuzz::compiled_text_check(text, *full, 1767225600 + static_cast<std::time_t>(size) * 3607);
    return 0;
}
