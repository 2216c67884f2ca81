// A linter for tmux 3.3a configuration files: a pure function over one
// file's text (no I/O) that finds lines which raise privilege or weaken
// sharing, and lists what the caller must check on disk (the files that
// `source-file` reads, the sockets that `-S` names).
//
// Contract of tmux_lint():
//  1. it tokenises as tmux 3.3a's cmd-parse.y does: newlines and `;` end
//     commands (`\;` is a literal `;`), single and double quotes, backslash
//     escapes, a trailing `\` continues the line (also inside a comment),
//     `{ ... }` blocks across lines, `%if/%elif/%else/%endif` (every branch
//     is linted: the conditions are not evaluated), `%hidden`, `NAME=value`
//     assignments (later `$NAME` expansions see them), `~` and `$NAME`
//     expanded through the caller's LintEnv, `#` comments;
//  2. command names are resolved as tmux resolves them (aliases such as
//     `set`, `bind`, `run`, `if`; unique prefixes such as `run-sh`; the
//     default and the config's own `command-alias` entries), option names
//     likewise (unique prefixes, `[N]` indexes), flags by each command's
//     getopt template (`-gq` is `-g -q`, `-tVALUE`, `--`);
//  3. commands nested in other commands are linted as commands: key
//     bindings, hooks (`set-hook` and hook options), `if-shell` branches,
//     `run-shell -C`, command templates (`command-prompt`, `confirm-before`,
//     `display-menu`, `choose-*`), alias bodies; shell commands are split as
//     sh would (quotes, `$(...)`, backquotes, `sh -c '...'`, `eval`, `exec`
//     and other wrappers, `tmux -S PATH ...`), and `#(...)` jobs in formats
//     are shell commands too;
//  4. every finding carries the line where its (outermost quoted) command
//     starts; a command inside a `{ }` block keeps its own line;
//  5. it is bounded: text over kLintMaxBytes is refused ("lint-too-large"),
//     nesting deeper than kLintMaxDepth levels and work beyond a fixed
//     budget are not followed and reported as a `lint-limit` finding; no
//     recursion is unbounded and no input makes it crash;
//  6. messages quote nothing from the file but short, fixed-length excerpts
//     (the caller still prints them through text_safe()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/error.hpp"

namespace tg {

// Larger than any hand-written config; tmux itself reads any size.
inline constexpr std::size_t kLintMaxBytes = 1U << 20U;
// Command strings within command strings, blocks, shells within shells.
inline constexpr int kLintMaxDepth = 12;

enum class LintSeverity : std::uint8_t { low = 1, medium = 2, high = 3 };

// "low", "medium", "high".
[[nodiscard]] std::string_view lint_severity_name(LintSeverity s);

// One finding: a stable kebab-case code (docs/cli.md lists them), a short
// message and a one-line fix.
struct LintFinding {
    int line = 0;
    LintSeverity severity = LintSeverity::low;
    std::string code;
    std::string message;
    std::string fix;
};

enum class LintRefKind : std::uint8_t { source_file, socket };

// Something the CLI must look at on disk: a file that `source-file` reads
// (absolute after `~`/`$HOME` expansion; may be a glob pattern) or a tmux
// socket named with `-S`.
struct LintRef {
    LintRefKind kind = LintRefKind::source_file;
    int line = 0;
    std::string path;
    bool quiet = false;  // source-file -q: a missing file is no error for tmux
};

// Where `$NAME` and `~`/`~USER` come from (tmux expands them when it parses
// the file). An unset lookup or a nullopt answer: `$NAME` expands to nothing
// (as in tmux), `~` stays as written.
struct LintEnv {
    std::function<std::optional<std::string>(std::string_view name)> variable;
    std::function<std::optional<std::string>(std::string_view user)> user_home;
};

struct LintReport {
    std::vector<LintFinding> findings;  // by line, then code; one per (line, code)
    std::vector<LintRef> refs;          // by line; no duplicates
};

// Lints one configuration file's text (contract above).
[[nodiscard]] Result<LintReport> tmux_lint(std::string_view text, const LintEnv& env = {});

}  // namespace tg
