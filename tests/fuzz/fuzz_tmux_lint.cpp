// Fuzz target: the tmux configuration linter (tmux_lint.hpp), which
// `tmuxguard lint` runs over files that any user writes.
//
// Input: the text of one configuration file. $NAME and ~USER expand from a
// fixed table that includes hostile values (command substitutions, a
// newline, a quote, another ~).
//
// Properties:
//  M1 any text within kLintMaxBytes gives a report (contract 5: bounded, no
//     input makes it fail or crash; libFuzzer's -timeout and -rss_limit_mb
//     catch unbounded work);
//  M2 findings are sorted by line then code, one per (line, code), each on
//     a line of the text, with a kebab-case code, a known severity, and a
//     non-empty message and fix of bounded size (contract 6);
//  M3 refs are sorted by line, without duplicates, each on a line of the
//     text and with a non-empty path;
//  M4 the same text gives the same report again;
//  M5 a comment line put in front moves every finding and ref down by
//     exactly one line and changes nothing else (contract 4: lines count
//     from where each command starts).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "fuzz.hpp"
#include "tmuxguard/tmux_lint.hpp"

namespace {

constexpr std::size_t kMaxMessage = 512;

tg::LintEnv env_make()
{
    tg::LintEnv env;
    env.variable = [](std::string_view name) -> std::optional<std::string> {
        if (name == "HOME")
            return "/home/alice";
        if (name == "SOCK")
            return "/tmp/tmux-1000/default";
        if (name == "CMD")
            return "$(id) `id` ; run-shell id";
        if (name == "NL")
            return "a\nrun-shell 'id'\nb";
        if (name == "Q")
            return "\"'\\";
        if (name == "TILDE")
            return "~root/x";
        if (name == "EMPTY")
            return "";
        return std::nullopt;
    };
    env.user_home = [](std::string_view user) -> std::optional<std::string> {
        if (user.empty() || user == "alice")
            return "/home/alice";
        if (user == "root")
            return "/root";
        if (user == "odd")
            return "/home/with blank/$(id)";
        return std::nullopt;
    };
    return env;
}

std::size_t lines_in(std::string_view text)
{
    std::size_t n = 1;
    for (char c : text)
        n += c == '\n' ? 1 : 0;
    return n;
}

bool kebab(std::string_view s)
{
    if (s.empty() || s.front() == '-' || s.back() == '-')
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    return s.find("--") == std::string_view::npos;
}

// M2, M3.
void report_check(const tg::LintReport& r, std::string_view text)
{
    const std::size_t lines = lines_in(text);
    for (std::size_t i = 0; i < r.findings.size(); ++i) {
        const tg::LintFinding& f = r.findings[i];
        FUZZ_CHECK(f.line >= 1 && static_cast<std::size_t>(f.line) <= lines, text);
        FUZZ_CHECK(kebab(f.code), text);
        FUZZ_CHECK(f.severity == tg::LintSeverity::low || f.severity == tg::LintSeverity::medium ||
                       f.severity == tg::LintSeverity::high,
                   text);
        FUZZ_CHECK(!f.message.empty() && f.message.size() <= kMaxMessage, text);
        FUZZ_CHECK(!f.fix.empty() && f.fix.size() <= kMaxMessage, text);
        if (i > 0) {
            const tg::LintFinding& p = r.findings[i - 1];
            FUZZ_CHECK(std::tie(p.line, p.code) < std::tie(f.line, f.code), text);
        }
    }
    for (std::size_t i = 0; i < r.refs.size(); ++i) {
        const tg::LintRef& ref = r.refs[i];
        FUZZ_CHECK(ref.line >= 1 && static_cast<std::size_t>(ref.line) <= lines, text);
        FUZZ_CHECK(!ref.path.empty(), text);
        for (std::size_t j = 0; j < i; ++j) {
            const tg::LintRef& o = r.refs[j];
            FUZZ_CHECK(o.line <= ref.line, text);
            FUZZ_CHECK(!(o.line == ref.line && o.kind == ref.kind && o.path == ref.path && o.quiet == ref.quiet),
                       text);
        }
    }
}

// The report as comparable text, every line moved by `shift`.
std::string report_text(const tg::LintReport& r, int shift)
{
    std::string out;
    for (const tg::LintFinding& f : r.findings)
        out += "F " + std::to_string(f.line + shift) + " " + f.code + " " +
               std::to_string(static_cast<int>(f.severity)) + " " + f.message + "\x1f" + f.fix + "\n";
    for (const tg::LintRef& ref : r.refs)
        out += "R " + std::to_string(ref.line + shift) + " " + std::to_string(static_cast<int>(ref.kind)) +
               " " + (ref.quiet ? "q " : "- ") + ref.path + "\n";
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    static const tg::LintEnv env = env_make();

    auto first = tg::tmux_lint(text, env);  // M1
    if (!first)
        tgfuzz::property_fail(("tmux_lint refused a small text: " + first.error().message()).c_str(), text);
    report_check(*first, text);

    auto again = tg::tmux_lint(text, env);  // M4
    FUZZ_CHECK(again && report_text(*again, 0) == report_text(*first, 0), text);

    const std::string shifted = "# a comment line\n" + std::string(text);  // M5
    auto moved = tg::tmux_lint(shifted, env);
    FUZZ_CHECK(moved.has_value(), shifted);
    report_check(*moved, shifted);
    FUZZ_CHECK(report_text(*moved, 0) == report_text(*first, 1), shifted);
    return 0;
}
