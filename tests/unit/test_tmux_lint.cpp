// tg::tmux_lint (tmux_lint.hpp): the corpus in tests/lint-corpus compared
// exactly, each rule with positive and negative cases, the tokenizer's
// clauses, and the bounds (clause 5) on hostile input.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tmuxguard/tmux_lint.hpp"

namespace {

namespace fs = std::filesystem;

// The environment every case is linted with: HOME=/home/u, ~alice.
tg::LintEnv env_fixed()
{
    tg::LintEnv env;
    env.variable = [](std::string_view n) -> std::optional<std::string> {
        if (n == "HOME")
            return "/home/u";
        if (n == "SHELL")
            return "/bin/bash";
        return std::nullopt;
    };
    env.user_home = [](std::string_view u) -> std::optional<std::string> {
        if (u == "alice")
            return "/home/alice";
        return std::nullopt;
    };
    return env;
}

// The report as the corpus writes it: "LINE SEVERITY CODE" per finding,
// then "LINE ref source-file|socket [-q] PATH" per reference.
std::vector<std::string> report_lines(const tg::LintReport& r)
{
    std::vector<std::string> out;
    for (const tg::LintFinding& f : r.findings)
        out.push_back(std::to_string(f.line) + " " +
                      std::string(tg::lint_severity_name(f.severity)) + " " + f.code);
    for (const tg::LintRef& ref : r.refs)
        out.push_back(std::to_string(ref.line) + " ref " +
                      (ref.kind == tg::LintRefKind::source_file ? "source-file " : "socket ") +
                      (ref.quiet ? "-q " : "") + ref.path);
    return out;
}

// Lints `text`; a refusal fails the test and gives an empty report.
tg::LintReport lint(const std::string& text)
{
    tg::Result<tg::LintReport> r = tg::tmux_lint(text, env_fixed());
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
    return r ? *r : tg::LintReport{};
}

// Only the findings, as "LINE SEVERITY CODE".
std::vector<std::string> findings(const std::string& text)
{
    std::vector<std::string> all = report_lines(lint(text));
    std::erase_if(all, [](const std::string& l) { return l.find(" ref ") != std::string::npos; });
    return all;
}

// Only the references.
std::vector<std::string> refs(const std::string& text)
{
    std::vector<std::string> all = report_lines(lint(text));
    std::erase_if(all, [](const std::string& l) { return l.find(" ref ") == std::string::npos; });
    return all;
}

using Lines = std::vector<std::string>;

// ------------------------------------------------------------------ corpus

fs::path corpus_dir()
{
    return fs::path(__FILE__).parent_path().parent_path() / "lint-corpus";
}

std::vector<std::string> corpus_names()
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(corpus_dir(), ec)) {
        if (e.path().extension() == ".conf")
            names.push_back(e.path().stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string file_slurp(const fs::path& p)
{
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The corpus exists and every config has its expected file, so the
// parameterised test below cannot pass by running no case at all.
TEST(LintCorpus, EveryConfigHasItsExpectedFindings)
{
    std::vector<std::string> names = corpus_names();
    ASSERT_GE(names.size(), 4u) << corpus_dir();
    for (const std::string& n : names)
        EXPECT_TRUE(fs::exists(corpus_dir() / (n + ".expected"))) << n;
}

class LintCorpusFile : public ::testing::TestWithParam<std::string> {};

// Each corpus file: exactly the expected findings and references, no more
// (an extra finding fails) and no fewer (a missing one fails).
TEST_P(LintCorpusFile, FindingsAreExactlyTheExpectedOnes)
{
    const std::string name = GetParam();
    std::vector<std::string> expected;
    std::istringstream in(file_slurp(corpus_dir() / (name + ".expected")));
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line[0] != '#')
            expected.push_back(line);
    }
    std::vector<std::string> actual =
        report_lines(lint(file_slurp(corpus_dir() / (name + ".conf"))));
    std::vector<std::string> e = expected, a = actual;
    std::sort(e.begin(), e.end());
    std::sort(a.begin(), a.end());
    std::vector<std::string> missing, extra;
    std::set_difference(e.begin(), e.end(), a.begin(), a.end(), std::back_inserter(missing));
    std::set_difference(a.begin(), a.end(), e.begin(), e.end(), std::back_inserter(extra));
    EXPECT_TRUE(missing.empty()) << name << ": missing\n  " << ::testing::PrintToString(missing);
    EXPECT_TRUE(extra.empty()) << name << ": unexpected\n  " << ::testing::PrintToString(extra);
}

// A test name: [A-Za-z0-9_] only.
std::string name_sanitize(std::string s)
{
    std::replace_if(
        s.begin(), s.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
        '_');
    return s;
}

INSTANTIATE_TEST_SUITE_P(Corpus, LintCorpusFile, ::testing::ValuesIn(corpus_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                             return name_sanitize(i.param);
                         });

// ------------------------------------------------------------------ rules

struct RuleCase {
    const char* label;
    const char* text;
    Lines expected;  // findings only
};

// gtest prints a case by its label.
void PrintTo(const RuleCase& c, std::ostream* os)
{
    *os << c.label;
}

// A test name from a case's label: [A-Za-z0-9_] only.
std::string rule_case_name(const ::testing::TestParamInfo<RuleCase>& i)
{
    return name_sanitize(std::to_string(i.index) + "_" + i.param.label);
}

class LintRule : public ::testing::TestWithParam<RuleCase> {};

TEST_P(LintRule, FindsExactlyThis)
{
    const RuleCase& c = GetParam();
    EXPECT_EQ(findings(c.text), c.expected) << c.label << "\n---\n" << c.text;
}

const Lines kNone{};

// privileged-shell: every place tmux runs a shell command, every tool, and
// the words that only look like one.
INSTANTIATE_TEST_SUITE_P(
    PrivilegedShell, LintRule,
    ::testing::Values(
        RuleCase{"run-shell sudo", "run-shell 'sudo -n true'", {"1 high privileged-shell"}},
        RuleCase{"run su", "run 'su -c id'", {"1 high privileged-shell"}},
        RuleCase{"doas", "run 'doas id'", {"1 high privileged-shell"}},
        RuleCase{"pkexec", "run 'pkexec id'", {"1 high privileged-shell"}},
        RuleCase{"runuser", "run 'runuser -u x id'", {"1 high privileged-shell"}},
        RuleCase{"if-shell condition", "if-shell 'sudo -n true' 'display ok'",
                 {"1 high privileged-shell"}},
        RuleCase{"if-shell branch", "if 'true' 'run \"sudo id\"' 'display no'",
                 {"1 high privileged-shell"}},
        RuleCase{"if-shell else", "if 'true' 'display ok' { run 'sudo id' }",
                 {"1 high privileged-shell"}},
        RuleCase{"default-command", "set -g default-command 'sudo -i'",
                 {"1 high privileged-shell"}},
        RuleCase{"default-shell", "set -g default-shell /usr/bin/doas",
                 {"1 high privileged-shell"}},
        RuleCase{"lock-command", "set -g lock-command 'pkexec vlock'", {"1 high privileged-shell"}},
        RuleCase{"copy-command", "set -s copy-command 'sudo tee /x'", {"1 high privileged-shell"}},
        RuleCase{"editor", "set -s editor 'sudoedit'", {"1 high privileged-shell"}},
        RuleCase{"set-hook string", "set-hook -g after-new-window 'run \"sudo id\"'",
                 {"1 high privileged-shell"}},
        RuleCase{"hook as option", "set -g pane-died 'run \"sudo id\"'",
                 {"1 high privileged-shell"}},
        RuleCase{"hook array index", "set-hook -g session-created[3] 'run \"su\"'",
                 {"1 high privileged-shell"}},
        RuleCase{"bind string", "bind x run 'sudo id'", {"1 high privileged-shell"}},
        RuleCase{"bind argv", "bind x run-shell -b 'sudo id'", {"1 high privileged-shell"}},
        RuleCase{"new-window", "new-window 'sudo -i'", {"1 high privileged-shell"}},
        RuleCase{"new-window argv", "neww -n r sudo -i", {"1 high privileged-shell"}},
        RuleCase{"new-session", "new-session -d -s s 'su -'", {"1 high privileged-shell"}},
        RuleCase{"split-window", "splitw -h 'doas sh'", {"1 high privileged-shell"}},
        RuleCase{"respawn-pane", "respawnp -k 'sudo -i'", {"1 high privileged-shell"}},
        RuleCase{"respawn-window", "respawnw -k 'sudo -i'", {"1 high privileged-shell"}},
        RuleCase{"pipe-pane", "pipe-pane -o 'sudo tee /var/log/x'", {"1 high privileged-shell"}},
        RuleCase{"display-popup", "display-popup -E 'sudo htop'", {"1 high privileged-shell"}},
        RuleCase{"detach-client -E", "bind d detach-client -E 'sudo -i'",
                 {"1 high privileged-shell"}},
        RuleCase{"send-keys typed", "bind k send-keys 'sudo ls' Enter",
                 {"1 high privileged-shell"}},
        RuleCase{"copy-pipe", "bind -T copy-mode-vi y send -X copy-pipe 'sudo tee /x'",
                 {"1 high privileged-shell"}},
        RuleCase{"#() job", "set -g status-right '#(sudo id)'", {"1 high privileged-shell"}},
        RuleCase{"sh -c", "run \"sh -c 'sudo id'\"", {"1 high privileged-shell"}},
        RuleCase{"exec", "run 'exec sudo id'", {"1 high privileged-shell"}},
        RuleCase{"path", "run '/usr/bin/sudo id'", {"1 high privileged-shell"}},
        RuleCase{"$SHELL -c", "run '$SHELL -c \"doas id\"'", {"1 high privileged-shell"}},
        RuleCase{"after && in a pipeline", "run 'true && cat x | sudo tee y'",
                 {"1 high privileged-shell"}},
        RuleCase{"comment", "# run 'sudo id'", kNone},
        RuleCase{"pseudo sudoku", "run 'pseudo; sudoku; sudo-x; xsudo'", kNone},
        RuleCase{"an argument", "run 'echo sudo; man su; apropos doas'", kNone},
        RuleCase{"a shell comment", "run 'true # sudo id'", kNone},
        RuleCase{"command -v", "run 'command -v sudo'", kNone},
        RuleCase{"if-shell -F is a format", "if -F '#{sudo}' 'display ok'", kNone},
        RuleCase{"display-message", "display 'sudo'", kNone},
        RuleCase{"send-keys text", "send-keys 'echo sudo' Enter", kNone},
        RuleCase{"escaped ## is no job", "set -g status-left '##(sudo id)'", kNone},
        RuleCase{"redirect target", "run 'echo x > sudo'", kNone},
        RuleCase{"set-buffer data", "set-buffer '#(sudo id)'", kNone},
        RuleCase{"default-shell bash", "set -g default-shell /bin/bash", kNone},
        RuleCase{"unknown command", "runx 'sudo id'", kNone}),
    rule_case_name);

// allow-rename (low), allow-passthrough (high), set-clipboard (medium):
// every spelling that turns them on, and the ones that do not.
INSTANTIATE_TEST_SUITE_P(
    PaneOptions, LintRule,
    ::testing::Values(
        RuleCase{"allow-rename on", "setw -g allow-rename on", {"1 low allow-rename"}},
        RuleCase{"allow-rename yes", "set -g allow-rename yes", {"1 low allow-rename"}},
        RuleCase{"allow-rename 1", "set -wg allow-rename 1", {"1 low allow-rename"}},
        RuleCase{"allow-rename ON", "set -g allow-rename ON", {"1 low allow-rename"}},
        RuleCase{"allow-rename toggled", "set -g allow-rename", {"1 low allow-rename"}},
        RuleCase{"allow-rename prefix", "set -g allow-ren on", {"1 low allow-rename"}},
        RuleCase{"allow-rename off", "set -g allow-rename off", kNone},
        RuleCase{"allow-rename unset", "set -gu allow-rename", kNone},
        RuleCase{"allow-passthrough on", "set -g allow-passthrough on",
                 {"1 high allow-passthrough"}},
        RuleCase{"allow-passthrough all", "set -g allow-passthrough all",
                 {"1 high allow-passthrough"}},
        RuleCase{"allow-passthrough -p", "set -p allow-passthrough on",
                 {"1 high allow-passthrough"}},
        RuleCase{"allow-passthrough prefix", "set -g allow-pass on", {"1 high allow-passthrough"}},
        RuleCase{"allow-passthrough off", "set -g allow-passthrough off", kNone},
        RuleCase{"ambiguous option prefix", "set -g allow- on", kNone},
        RuleCase{"set-clipboard on", "set -s set-clipboard on", {"1 medium set-clipboard"}},
        RuleCase{"set-clipboard -g on", "set -g set-clipboard on", {"1 medium set-clipboard"}},
        RuleCase{"set-clipboard external", "set -s set-clipboard external", kNone},
        RuleCase{"set-clipboard toggled", "set -s set-clipboard", kNone},
        RuleCase{"in a hook", "set-hook -g session-created 'set -g allow-passthrough on'",
                 {"1 high allow-passthrough"}},
        RuleCase{"user option", "set -g @allow-passthrough on", kNone}),
    rule_case_name);

// update-environment-secret: the attaching guest's credentials copied into
// the owner's session.
INSTANTIATE_TEST_SUITE_P(
    UpdateEnvironment, LintRule,
    ::testing::Values(
        RuleCase{"SSH_AUTH_SOCK", "set -g update-environment 'SSH_AUTH_SOCK'",
                 {"1 high update-environment-secret"}},
        RuleCase{"appended", "set -ga update-environment ' KRB5CCNAME'",
                 {"1 high update-environment-secret"}},
        RuleCase{"comma list", "set -g update-environment 'TERM,GPG_AGENT_INFO'",
                 {"1 high update-environment-secret"}},
        RuleCase{"index", "set -g update-environment[4] SSH_AUTH_SOCK",
                 {"1 high update-environment-secret"}},
        RuleCase{"pattern", "set -g update-environment 'SSH_*'",
                 {"1 high update-environment-secret"}},
        RuleCase{"star", "set -g update-environment '*'", {"1 high update-environment-secret"}},
        RuleCase{"token", "set -ga update-environment GITHUB_TOKEN",
                 {"1 high update-environment-secret"}},
        RuleCase{"reset to the default", "set -gu update-environment",
                 {"1 high update-environment-secret"}},
        RuleCase{"DISPLAY is medium", "set -g update-environment 'DISPLAY XAUTHORITY'",
                 {"1 medium update-environment-secret"}},
        RuleCase{"harmless", "set -g update-environment 'TERM COLORTERM'", kNone},
        RuleCase{"empty", "set -g update-environment ''", kNone},
        RuleCase{"session unset", "set -u update-environment", kNone},
        RuleCase{"bracket class that misses", "set -g update-environment '[X]SH_AUTH_SOCK'",
                 kNone}),
    rule_case_name);

// readonly-toggle: switch-client -r where a read-only client (or a hook)
// can run it; server-access-grant; source-file-relative.
INSTANTIATE_TEST_SUITE_P(
    Sharing, LintRule,
    ::testing::Values(
        RuleCase{"bind", "bind w switch-client -r", {"1 high readonly-toggle"}},
        RuleCase{"bind alias", "bind -n M-w switchc -r", {"1 high readonly-toggle"}},
        RuleCase{"bind prefix name", "bind w switch-c -Er", {"1 high readonly-toggle"}},
        RuleCase{"bind string", "bind w 'switch-client -r'", {"1 high readonly-toggle"}},
        RuleCase{"bind block line", "bind w {\n  display hi\n  switch-client -r\n}",
                 {"3 high readonly-toggle"}},
        RuleCase{"bind chain", "bind w display hi \\; switch-client -r",
                 {"1 high readonly-toggle"}},
        RuleCase{"through an alias", "set -s command-alias[9] ro='switch-client -r'\nbind w ro",
                 {"2 high readonly-toggle"}},
        RuleCase{"hook", "set-hook -g client-attached 'switch-client -r'",
                 {"1 high readonly-toggle"}},
        RuleCase{"not in a binding", "switch-client -r", kNone},
        RuleCase{"-n is harmless", "bind w switch-client -n", kNone},
        RuleCase{"alias defined, not bound", "set -s command-alias[9] ro='switch-client -r'",
                 kNone},
        RuleCase{"attach -r sets read-only", "bind w attach-session -r", kNone},
        RuleCase{"server-access -a", "server-access -a bob", {"1 medium server-access-grant"}},
        RuleCase{"server-access -w", "server-access -w bob", {"1 medium server-access-grant"}},
        RuleCase{"server-access -ar", "server-access -ar bob", {"1 medium server-access-grant"}},
        RuleCase{"server-access -d", "server-access -d bob", kNone},
        RuleCase{"server-access -l", "server-access -l", kNone},
        RuleCase{"relative source", "source-file local.conf", {"1 medium source-file-relative"}},
        RuleCase{"relative in a binding", "bind r source ./x.conf",
                 {"1 medium source-file-relative"}},
        RuleCase{"absolute source", "source-file /etc/x.conf", kNone},
        RuleCase{"home source", "source-file ~/x.conf", kNone},
        RuleCase{"parse only", "source-file -n x.conf", kNone}),
    rule_case_name);

// ------------------------------------------------------------------ tokenizer (clause 1)

// A trailing backslash joins lines; the finding is on the command's first line.
TEST(LintTokens, Clause1_ContinuationKeepsTheFirstLine)
{
    EXPECT_EQ(findings("\nrun-shell \\\n  \\\n  'sudo id'\n"), Lines{"2 high privileged-shell"});
}

// A comment that ends in a backslash swallows the next line, as in tmux;
// an even number of backslashes does not continue it.
TEST(LintTokens, Clause1_CommentContinuationSwallowsTheNextLine)
{
    EXPECT_EQ(findings("# note \\\nrun 'sudo id'\n"), kNone);
    EXPECT_EQ(findings("# note \\\\\nrun 'sudo id'\n"), Lines{"2 high privileged-shell"});
}

// `;` ends a command outside quotes, `\;` is a literal ';' (an argument).
TEST(LintTokens, Clause1_SemicolonsSplitCommands)
{
    EXPECT_EQ(findings("display x; run 'sudo id'"), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("display 'x; run sudo'"), kNone);
    EXPECT_EQ(findings("bind a display x \\; run 'sudo id'"), Lines{"1 high privileged-shell"});
}

// Quotes concatenate; escapes expand outside single quotes only.
TEST(LintTokens, Clause1_QuotesAndEscapes)
{
    EXPECT_EQ(findings("run 's'\"u\"do"), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("run \"\\x73udo\""), kNone);  // \x is no hex escape: "x73udo"
    EXPECT_EQ(findings("run \"\\163udo\""), Lines{"1 high privileged-shell"});  // octal 's'
    EXPECT_EQ(findings("run \"\\u0073udo\""), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("run '\\163udo'"), kNone);  // single quotes keep the backslash
}

// Inside quotes a newline stays, and comment lines after it are dropped.
TEST(LintTokens, Clause1_QuotedNewlinesAndTheirCommentLines)
{
    EXPECT_EQ(findings("run \"true\n  sudo id\""), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("bind a run \"true\n  # sudo id\n  echo\""), kNone);
}

// Every %if branch is linted; a one-line %if too; %hidden assigns.
TEST(LintTokens, Clause1_ConditionsAndAssignments)
{
    EXPECT_EQ(findings("%if #{x}\nrun 'sudo a'\n%elif #{y}\nrun 'su'\n%else\nrun 'doas'\n%endif"),
              (Lines{"2 high privileged-shell", "4 high privileged-shell",
                     "6 high privileged-shell"}));
    EXPECT_EQ(findings("%if #{x} run 'sudo a' %endif"), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("%hidden T=sudo\nrun \"$T id\""), Lines{"2 high privileged-shell"});
    EXPECT_EQ(findings("T=pkexec\nrun '${T} id'"), Lines{"2 high privileged-shell"});
    EXPECT_EQ(findings("T=echo\nrun \"$T sudo\""), kNone);
}

// `~` and `$HOME` expand from the caller's environment in source-file paths.
TEST(LintTokens, Clause1_TildeAndHomeExpand)
{
    EXPECT_EQ(refs("source ~/a.conf\nsource $HOME/b.conf\nsource ${HOME}/c.conf\nsource ~alice/d"),
              (Lines{"1 ref source-file /home/u/a.conf", "2 ref source-file /home/u/b.conf",
                     "3 ref source-file /home/u/c.conf", "4 ref source-file /home/alice/d"}));
    // Single quotes keep '~': tmux takes "~/x" as a path relative to its directory.
    EXPECT_EQ(findings("source '~/x'"), Lines{"1 medium source-file-relative"});
}

// ------------------------------------------------------------------ names (clause 2)

// Unique prefixes resolve, ambiguous ones are refused (as by tmux).
TEST(LintNames, Clause2_PrefixesAndAliases)
{
    EXPECT_EQ(findings("run-s 'sudo id'"), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("r 'sudo id'"), kNone);     // rename-*, resize-*, run-shell...
    EXPECT_EQ(findings("ru 'sudo id'"), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("split-pane 'sudo id'"), Lines{"1 high privileged-shell"});  // default alias
    EXPECT_EQ(findings("set -s command-alias[7] up='run \"sudo id\"'"),
              Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("set -s command-alias[7] up='run'\nup 'sudo id'"),
              Lines{"2 high privileged-shell"});  // the use's arguments join the alias
}

// Flag clusters, flags with values and `--` are read by each template.
TEST(LintNames, Clause2_FlagsByTemplate)
{
    EXPECT_EQ(findings("set -gqa allow-passthrough on"), Lines{"1 high allow-passthrough"});
    EXPECT_EQ(findings("run -bd 3 'sudo id'"), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("run -t1 -- 'sudo id'"), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("run -C 'run \"sudo id\"'"), Lines{"1 high privileged-shell"});
    EXPECT_EQ(findings("display-popup -S fg=red -E 'echo hi'"), kNone);  // -S is a style there
}

// ------------------------------------------------------------------ lines (clause 4)

// A finding carries the line its command starts on; a command in a block
// keeps its own line; a command in a string takes the line of its holder.
TEST(LintLines, Clause4_LineOfTheCommand)
{
    EXPECT_EQ(findings("bind a {\n  display x\n\n  run 'sudo id'\n}"),
              Lines{"4 high privileged-shell"});
    EXPECT_EQ(findings("\n\nbind a 'display x\n  run \"sudo id\"'"),
              Lines{"3 high privileged-shell"});
    EXPECT_EQ(findings("set -g status-right \"a\nb\nc\"\nrun 'su'"),
              Lines{"4 high privileged-shell"});
}

// ------------------------------------------------------------------ references

// source-file paths and -S sockets go to the caller; -q is kept; formats
// and parse-only sourcing are not followed.
TEST(LintRefs, SourcesAndSockets)
{
    EXPECT_EQ(refs("source-file -q /etc/tmux.d/*.conf /etc/b.conf\n"
                   "source -F '#{HOME}/x'\n"
                   "source -n /etc/c.conf\n"
                   "if 'true' 'source /etc/d.conf'\n"),
              (Lines{"1 ref source-file -q /etc/b.conf", "1 ref source-file -q /etc/tmux.d/*.conf",
                     "4 ref source-file /etc/d.conf"}));
    EXPECT_EQ(refs("run 'tmux -S /tmp/a ls'\n"
                   "set -g default-command 'tmux -uS/tmp/b new'\n"
                   "set -g @sock '-S /tmp/c'\n"
                   "run 'tmux -S rel ls'\n"
                   "run 'ssh -S /tmp/ctl host'\n"),
              (Lines{"1 ref socket /tmp/a", "2 ref socket /tmp/b", "3 ref socket /tmp/c"}));
}

// ------------------------------------------------------------------ bounds (clauses 5, 6)

// More than kLintMaxBytes is refused; exactly that much is linted.
TEST(LintBounds, Clause5_SizeCap)
{
    std::string big(tg::kLintMaxBytes + 1, '\n');
    tg::Result<tg::LintReport> r = tg::tmux_lint(big);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason, "lint-too-large");
    std::string max(tg::kLintMaxBytes - 14, '\n');
    max += "run 'sudo id'\n";
    EXPECT_EQ(findings(max).size(), 1u);
}

// Blocks nested without end: a lint-limit finding at the line, no crash,
// and the commands after them are still linted.
TEST(LintBounds, Clause5_DeepBlocksAreALimitFinding)
{
    std::string text = "bind a ";
    for (int i = 0; i < 100000; ++i)
        text += "{ ";
    text += "run 'sudo id'";
    for (int i = 0; i < 100000; ++i)
        text += " }";
    text += "\nrun 'doas id'\n";
    EXPECT_EQ(findings(text), (Lines{"1 medium lint-limit", "2 high privileged-shell"}));
}

// Command strings nested in command strings: the same limit.
TEST(LintBounds, Clause5_DeepStringsAreALimitFinding)
{
    // bind a "bind a \"... run 'sudo id' ...\"", quoted again at each level.
    std::string text = "run 'sudo id'";
    for (int i = 0; i < 14; ++i) {
        std::string quoted;
        for (char c : text) {
            if (c == '\\' || c == '"' || c == '$')
                quoted += '\\';
            quoted += c;
        }
        text = "bind a \"" + quoted + "\"";
    }
    EXPECT_EQ(findings(text + "\nrun 'doas id'\n"),
              (Lines{"1 medium lint-limit", "2 high privileged-shell"}));
    // Shallower than the limit, the same nesting is followed to the end.
    std::string shallow = "run 'sudo id'";
    for (int i = 0; i < 5; ++i) {
        std::string quoted;
        for (char c : shallow) {
            if (c == '\\' || c == '"' || c == '$')
                quoted += '\\';
            quoted += c;
        }
        shallow = "bind a \"" + quoted + "\"";
    }
    EXPECT_EQ(findings(shallow), Lines{"1 high privileged-shell"});
}

// Expansions that would grow without end stop at the budget: a lint-limit
// finding, not exhausted memory.
TEST(LintBounds, Clause5_ExpansionBudget)
{
    std::string text = "A=" + std::string(512 * 1024, 'x') + "\n";
    for (int i = 0; i < 40; ++i)
        text += "display \"$A$A$A$A$A$A$A$A\"\n";
    text += "run 'sudo id'\n";
    std::vector<std::string> f = findings(text);
    ASSERT_FALSE(f.empty());
    EXPECT_NE(std::find_if(f.begin(), f.end(),
                           [](const std::string& l) { return l.ends_with("medium lint-limit"); }),
              f.end());
}

// Patterns that drive a naive backtracking matcher into exponential time
// (C(24, k) ways to place k '?' after stars) are matched in O(pattern x
// name): 256 of them finish at once instead of running for hours.
TEST(LintBounds, Clause5_HostilePatternsStayCheap)
{
    std::string pattern;
    for (int i = 0; i < 12; ++i)
        pattern += "*?";
    pattern += "X";
    std::string text;
    for (int i = 0; i < 256; ++i)
        text += "set -ga update-environment '" + pattern + "'\n";
    EXPECT_EQ(findings(text), kNone);
}

// Random bytes and random tmux-ish tokens: always an answer, and every
// finding names a line of the input.
TEST(LintBounds, Clause5_ArbitraryInputIsLintedWithoutHarm)
{
    const std::vector<std::string> atoms = {
        "run ", "bind a ", "{", "}", "'", "\"", "\\", "\n", ";", " \\;", "%if #{x}\n", "%endif\n",
        "%else\n", "#", "#{", "#(", ")", "$", "${", "~", "sudo ", "sh -c ", "set -g ",
        "command-alias[1] x='x x'\n", "x ", "source ", "-S /tmp/x ", "`", "$(", "<<EOF\n",
        "update-environment '*' ", "switch-client -r ", "\x01", "\xff"};
    std::mt19937 rng(20240601);
    for (int round = 0; round < 3000; ++round) {
        std::string text;
        const int n = static_cast<int>(rng() % 200);
        for (int i = 0; i < n; ++i) {
            if (rng() % 4 == 0)
                text += static_cast<char>(rng() % 256);
            else
                text += atoms[rng() % atoms.size()];
        }
        tg::Result<tg::LintReport> r = tg::tmux_lint(text, env_fixed());
        ASSERT_TRUE(r.has_value()) << "round " << round;
        const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
        for (const tg::LintFinding& f : r->findings)
            ASSERT_TRUE(f.line >= 1 && f.line <= lines) << "round " << round << " line " << f.line;
    }
}

// Messages quote at most a short excerpt of the file.
TEST(LintBounds, Clause6_MessagesQuoteShortExcerpts)
{
    tg::LintReport r = lint("source-file " + std::string(5000, 'a') + ".conf\n");
    ASSERT_EQ(r.findings.size(), 1u);
    EXPECT_EQ(r.findings[0].code, "source-file-relative");
    EXPECT_LT(r.findings[0].message.size(), 200u) << r.findings[0].message;
}

}  // namespace
