// The installed man pages and shell completion, as a user meets them: what
// `cmake --install` put into the test prefix, rendered by the real man(1),
// checked by groff's warnings, and completed by a real bash and zsh. The CLI's own
// `tmuxguard --help` is the list of commands and options the pages and the
// completion must cover, so a command added without its man entry or its
// completion fails here.
#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace {

// The four pages and where they are installed.
constexpr const char* kPages[] = {"man1/tmuxguard-attach.1", "man5/tmuxguard.conf.5",
                                  "man8/tmuxguard.8", "man8/pam_tmuxguard.8"};

// Every file the e2e world's `cmake --install` installed.
std::vector<std::string> installed_files()
{
    return split_lines(file_read(std::string(TG_BUILD_DIR) + "/install_manifest.txt"));
}

// The installed file whose path ends in "/" + `tail`, "" if none.
std::string installed_path(const std::string& tail)
{
    for (const std::string& f : installed_files())
        if (f.size() > tail.size() + 1 && f.ends_with("/" + tail) && f.starts_with(path_prefix() + "/"))
            return f;
    return {};
}

// A page rendered by man(1) as a user reads it at 80 columns.
RunResult man_render(const std::string& page)
{
    RunOptions opt;
    opt.extra_env = {"MANWIDTH=80", "MANPAGER=cat", "PAGER=cat"};
    return proc_run({"man", "--warnings", "-l", page}, opt);
}

// The rendered text with its lines joined, as one string of words: a line
// broken after a hyphen (a path such as /opt/tmuxguard-test-x/...) is
// joined without a blank, any other break becomes one blank.
std::string text_joined(const std::string& rendered)
{
    std::string out;
    for (const std::string& raw : split_lines(rendered)) {
        std::size_t b = raw.find_first_not_of(' ');
        if (b == std::string::npos)
            continue;
        std::string line = raw.substr(b, raw.find_last_not_of(' ') + 1 - b);
        if (!out.empty() && out.back() != '-')
            out += ' ';
        out += line;
    }
    std::string collapsed;
    for (char c : out)
        if (!(c == ' ' && !collapsed.empty() && collapsed.back() == ' '))
            collapsed += c;
    return collapsed;
}

// The words of `s`, split on blanks.
std::vector<std::string> words_of(const std::string& s)
{
    std::istringstream in(s);
    std::vector<std::string> w;
    for (std::string x; in >> x;)
        w.push_back(x);
    return w;
}

// One usage form of `tmuxguard --help`: "log show [--since WHEN] ...".
struct UsageForm {
    std::string name;                  // "log show", "reap", "check-policy"
    std::vector<std::string> options;  // "--since", "--json", ...
};

// The usage forms of the installed CLI's --help: each "  tmuxguard ..." line,
// split at " | " into forms. The name is the leading lower-case words.
std::vector<UsageForm> cli_usage_forms()
{
    RunResult r = proc_run({path_cli(), "--help"});
    EXPECT_EQ(r.status, 0) << r.both();
    static const std::regex word("^[a-z][a-z-]*$");
    static const std::regex option("--[a-z][a-z-]*");
    std::vector<UsageForm> forms;
    for (const std::string& line : split_lines(r.out)) {
        const std::string lead = "  tmuxguard ";
        if (!line.starts_with(lead))
            continue;
        std::string rest = line.substr(lead.size());
        for (std::size_t at = 0; at != std::string::npos;) {
            std::size_t bar = rest.find(" | ", at);
            std::string text = rest.substr(at, bar == std::string::npos ? bar : bar - at);
            at = bar == std::string::npos ? bar : bar + 3;
            UsageForm f;
            for (const std::string& w : words_of(text)) {
                if (!std::regex_match(w, word))
                    break;
                f.name += (f.name.empty() ? "" : " ") + w;
            }
            for (std::sregex_iterator m(text.begin(), text.end(), option), end; m != end; ++m)
                f.options.push_back(m->str());
            forms.push_back(f);
        }
    }
    return forms;
}

// The commands (first words) of the usage forms, in order, once each.
std::vector<std::string> cli_commands(const std::vector<UsageForm>& forms)
{
    std::vector<std::string> cmds;
    for (const UsageForm& f : forms) {
        std::string first = f.name.substr(0, f.name.find(' '));
        if (std::find(cmds.begin(), cmds.end(), first) == cmds.end())
            cmds.push_back(first);
    }
    return cmds;
}

// COMPREPLY of the bash completion in `script` for the command line
// `words` (the last one is the word being completed), in a plain
// `bash --norc` run as `who` (root when empty), one entry per element.
std::vector<std::string> bash_complete(const std::string& script, const std::vector<std::string>& words,
                                       const std::string& who = {})
{
    const std::string body =
        "source \"$1\" || exit 9; shift\n"
        "COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
        "COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}\n"
        "spec=$(complete -p \"$1\") || exit 8\n"
        "fn=${spec#*-F }; fn=${fn%% *}\n"
        "\"$fn\" \"$1\" \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
    std::vector<std::string> argv = {"bash", "--norc", "--noprofile", "-c", body, "bash", script};
    argv.insert(argv.end(), words.begin(), words.end());
    RunOptions opt;
    opt.user = who;
    RunResult r = proc_run(argv, opt);
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.err, "") << "completing:" << ::testing::PrintToString(words);
    std::vector<std::string> reply;
    for (const std::string& l : split_lines(r.out))
        if (!l.empty())
            reply.push_back(l);
    return reply;
}

// The zsh driver: an interactive `zsh -f` on a pty (zsh/zpty) with the
// installed completion directory in $fpath and compinit loaded; each LINE
// is typed with a TAB at its end, its candidates are caught by a compadd
// wrapper, and the line is cleared. Prints "N CANDIDATE" for line N.
constexpr const char* kZshDriver = R"zsh(
# zsh -f DRIVER FPATH_DIR LINE...: completes each LINE (TAB at its end) in an
# interactive zsh on a pty and prints "N MATCH" for the matches of line N.
zmodload zsh/zpty || exit 9
zpty z zsh -f -i || exit 8
# Reads the pty until "DONE$1" has been printed; the output so far in $out.
await() {
  zpty -w z "print -r -- \"D\"\"ONE$1\""
  out=""
  local t chunk
  for (( t = 0; t < 500; t++ )); do
    if zpty -r -t z chunk; then
      out+=$chunk
      [[ $out == *DONE$1* ]] && return 0
    else
      sleep 0.02
    fi
  done
  exit 7
}
zpty -w z "PROMPT=''; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a hits; builtin compadd -A hits "$@"; local h; for h in $hits; do print -r -- "<<$h>>"; done; }'
zpty -w z "zstyle ':completion:*' insert-tab false; bindkey '^I' complete-word"
await 0
i=0
for line in "${@:2}"; do
  (( i++ ))
  zpty -n -w z "$line"$'\t'
  zpty -n -w z $'\x15'
  await $i
  for hit in ${(u)${(M)${(f)out}:#*<<*>>*}}; do
    hit=${${hit#*<<}%>>*}
    [[ $hit == '$h' ]] || print -r -- "$i $hit"
  done
done
zpty -d z
)zsh";

// The candidates zsh offers for each of `lines`, run as `who`.
std::vector<std::set<std::string>> zsh_complete(const std::string& dir,
                                                const std::vector<std::string>& lines,
                                                const std::string& who)
{
    std::vector<std::string> argv = {"zsh", "-f", "-c", kZshDriver, "zsh", dir};
    argv.insert(argv.end(), lines.begin(), lines.end());
    RunOptions opt;
    opt.user = who;
    opt.timeout = std::chrono::seconds(30);
    RunResult r = proc_run(argv, opt);
    EXPECT_EQ(r.status, 0) << r.both();
    std::vector<std::set<std::string>> out(lines.size());
    for (const std::string& l : split_lines(r.out)) {
        std::size_t sp = l.find(' ');
        if (sp == 0 || sp == std::string::npos ||
            !std::all_of(l.begin(), l.begin() + static_cast<long>(sp),
                         [](char c) { return c >= '0' && c <= '9'; })) {
            ADD_FAILURE() << "unexpected zsh driver output: " << l;
            continue;
        }
        std::size_t n = std::stoul(l.substr(0, sp));
        if (n >= 1 && n <= lines.size())
            out[n - 1].insert(l.substr(sp + 1));
    }
    return out;
}

// The elements of `v`, for comparisons that ignore order.
std::set<std::string> as_set(const std::vector<std::string>& v)
{
    return {v.begin(), v.end()};
}

class ManPages : public E2E {};

// Every page is installed into the prefix, groff finds nothing to warn
// about (-ww: every warning), man renders it without a warning, the NAME
// line is there, and no line is wider than the 80 columns asked for.
TEST_F(ManPages, EveryPageIsInstalledAndRendersWithoutWarnings)
{
    for (const char* tail : kPages) {
        SCOPED_TRACE(tail);
        const std::string page = installed_path(tail);
        ASSERT_NE(page, "") << tail << " is not in " << TG_BUILD_DIR << "/install_manifest.txt";
        RunResult g = proc_run({"groff", "-man", "-ww", "-z", page});
        EXPECT_EQ(g.status, 0) << g.both();
        EXPECT_EQ(g.err, "") << "groff warnings for " << page;
        RunResult m = man_render(page);
        ASSERT_EQ(m.status, 0) << m.both();
        EXPECT_EQ(m.err, "") << "man --warnings for " << page;
        std::string name = std::string(tail).substr(5);
        name = name.substr(0, name.rfind('.'));
        std::vector<std::string> lines = split_lines(m.out);
        auto heading = std::find(lines.begin(), lines.end(), "NAME");
        ASSERT_NE(heading, lines.end()) << m.out;
        ASSERT_NE(heading + 1, lines.end());
        EXPECT_TRUE((heading + 1)->starts_with("       " + name + " - ")) << *(heading + 1);
        for (const std::string& l : lines) {
            EXPECT_LE(std::count_if(l.begin(), l.end(), [](char c) { return (c & 0xc0) != 0x80; }), 80)
                << "wider than 80 columns: " << l;
        }
        EXPECT_FALSE(std::regex_search(file_read(page), std::regex("@[A-Z_]+@")))
            << page << " holds a placeholder configure_file did not replace";
    }
}

// The paths in the pages are this build's (the test prefix's), the ones
// the programs were built with, not the documentation's /etc or /var.
TEST_F(ManPages, PagesNameThisBuildsPaths)
{
    const std::string cli = path_cli();
    const std::map<std::string, std::vector<std::string>> wanted = {
        {"man1/tmuxguard-attach.1",
         {tg::paths::compiled_policy, tg::paths::default_log, tg::paths::attach_path,
          std::string(tg::paths::default_runtime_dir) + "/UID/SHARE"}},
        {"man5/tmuxguard.conf.5",
         {tg::paths::policy_file, std::string(tg::paths::policy_dir) + "/*.conf",
          tg::paths::compiled_policy, tg::paths::default_log, tg::paths::default_runtime_dir,
          tg::paths::default_tmux}},
        {"man8/tmuxguard.8",
         {tg::paths::policy_file, std::string(tg::paths::policy_dir) + "/*.conf",
          tg::paths::compiled_policy, tg::paths::default_log, tg::paths::attach_path, cli,
          std::string(tg::paths::default_runtime_dir) + "/UID/"}},
        {"man8/pam_tmuxguard.8",
         {tg::paths::attach_path, tg::paths::compiled_policy,
          std::string(tg::paths::default_runtime_dir) + "/UID/"}},
    };
    ASSERT_TRUE(std::string(tg::paths::policy_file).starts_with(path_prefix() + "/"))
        << "the test build's policy file is not under the test prefix";
    for (const auto& [tail, paths] : wanted) {
        SCOPED_TRACE(tail);
        const std::string page = installed_path(tail);
        ASSERT_NE(page, "");
        RunResult m = man_render(page);
        ASSERT_EQ(m.status, 0) << m.both();
        const std::string text = text_joined(m.out);
        for (const std::string& p : paths)
            EXPECT_TRUE(contains(text, p)) << tail << " does not name " << p << "\n" << m.out;
    }
}

// Every command of `tmuxguard --help` has a subsection in tmuxguard(8), and
// a synopsis line there names every option its usage lists.
TEST_F(ManPages, Tmuxguard8CoversEveryCommandAndOptionOfTheCli)
{
    const std::vector<UsageForm> forms = cli_usage_forms();
    ASSERT_GE(forms.size(), 14u) << "tmuxguard --help lists fewer usage forms than expected";
    const std::string page = installed_path("man8/tmuxguard.8");
    ASSERT_NE(page, "");
    RunResult m = man_render(page);
    ASSERT_EQ(m.status, 0) << m.both();
    const std::vector<std::string> lines = split_lines(m.out);
    for (const UsageForm& f : forms) {
        SCOPED_TRACE(f.name);
        ASSERT_FALSE(f.name.empty());
        EXPECT_TRUE(std::find(lines.begin(), lines.end(), "   " + f.name) != lines.end())
            << "tmuxguard(8) has no subsection '" << f.name << "' under COMMANDS";
        bool synopsis = false;
        for (const std::string& l : lines) {
            std::vector<std::string> w = words_of(l);
            std::vector<std::string> name = words_of("tmuxguard " + f.name);
            if (w.size() < name.size() || !std::equal(name.begin(), name.end(), w.begin()))
                continue;
            std::string stripped;
            for (char c : l)
                stripped += (c == '[' || c == ']' || c == '|') ? ' ' : c;
            std::set<std::string> tokens = as_set(words_of(stripped));
            synopsis = std::all_of(f.options.begin(), f.options.end(),
                                   [&](const std::string& o) { return tokens.count(o) == 1; });
            if (synopsis)
                break;
        }
        EXPECT_TRUE(synopsis) << "no synopsis line 'tmuxguard " << f.name
                              << " ...' in tmuxguard(8) names all of: "
                              << ::testing::PrintToString(f.options);
    }
}

// Every systemd unit the build installs has its entry in tmuxguard(8)'s
// SYSTEMD section (as a tag of its own, or as the service its timer or
// path unit starts), so a unit added without one fails here.
TEST_F(ManPages, Tmuxguard8NamesEveryInstalledSystemdUnit)
{
    const std::string page = installed_path("man8/tmuxguard.8");
    ASSERT_NE(page, "");
    RunResult m = man_render(page);
    ASSERT_EQ(m.status, 0) << m.both();
    const std::string all = m.out;
    const std::size_t from = all.find("\nSYSTEMD\n");
    const std::size_t to = all.find("\nFILES\n");
    ASSERT_TRUE(from != std::string::npos && to != std::string::npos && from < to) << all;
    const std::string section = text_joined(all.substr(from, to - from));
    static const std::regex unit(".*/systemd/system/([^/]+\\.(service|timer|path|mount))$");
    int units = 0;
    for (const std::string& f : installed_files()) {
        std::smatch m2;
        if (!std::regex_match(f, m2, unit))
            continue;
        ++units;
        EXPECT_TRUE(contains(section, m2[1].str())) << "tmuxguard(8) SYSTEMD does not name " << m2[1];
    }
    EXPECT_GE(units, 8) << "fewer units installed than the SYSTEMD section describes";
}

class Completion : public E2E {};

// bash completes exactly the CLI's commands, every option each usage form
// lists, and the wrapper's three options; run by a guest, in a plain
// `bash --norc` without bash-completion.
TEST_F(Completion, BashCompletesTheCommandsAndOptionsOfTheCli)
{
    const std::string script = installed_path("bash-completion/completions/tmuxguard");
    ASSERT_NE(script, "") << "no bash completion for tmuxguard installed";
    ASSERT_NE(installed_path("bash-completion/completions/tmuxguard-attach"), "");
    ASSERT_NE(installed_path("vendor-completions/_tmuxguard"), "");
    const std::string guest = user("viewer").name;
    const std::vector<UsageForm> forms = cli_usage_forms();
    ASSERT_GE(forms.size(), 14u);

    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", ""}, guest)), as_set(cli_commands(forms)));
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", "-"}, guest)),
              (std::set<std::string>{"--help", "--version"}));
    for (const UsageForm& f : forms) {
        SCOPED_TRACE(f.name);
        std::vector<std::string> words = words_of("tmuxguard " + f.name);
        words.push_back("--");
        std::set<std::string> got = as_set(bash_complete(script, words, guest));
        for (const std::string& o : f.options)
            EXPECT_EQ(got.count(o), 1u) << "'" << f.name << " --<TAB>' does not offer " << o
                                        << "; got " << ::testing::PrintToString(got);
        EXPECT_EQ(got.count("--help"), 1u);
    }
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", "reap", "--"}, guest)),
              (std::set<std::string>{"--idle", "--dry-run", "--json", "--help"}));
    // An option already given is not offered again.
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", "reap", "--json", "--"}, guest)),
              (std::set<std::string>{"--idle", "--dry-run", "--help"}));
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard-attach", "-"}, guest)),
              (std::set<std::string>{"-r", "-n", "-t"}));
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard-attach", "-rt", "main", "-"}, guest)),
              (std::set<std::string>{"-n"}));
}

// Share names come from the compiled policy that reload wrote, for the
// wrapper and for the commands that take a share; nothing follows SHARE.
TEST_F(Completion, BashCompletesShareNamesFromTheCompiledPolicy)
{
    const std::string script = installed_path("bash-completion/completions/tmuxguard");
    ASSERT_NE(script, "");
    Share a = share_make(World::get().unique_name("pair") + ".x");
    Share b = share_make(World::get().unique_name("ops"));
    ASSERT_NO_FATAL_FAILURE(policy_install(
        {a.policy_line(), b.policy_line(), rule_permit("view", user("viewer").name, a)}));
    const std::string guest = user("viewer").name;
    const std::set<std::string> both = {a.name, b.name};
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard-attach", ""}, guest)), both);
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard-attach", "-r", "-t", "main", ""}, guest)), both);
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard-attach", a.name.substr(0, a.name.size() - 2)},
                                   guest)),
              (std::set<std::string>{a.name}));
    EXPECT_EQ(bash_complete(script, {"tmuxguard-attach", a.name, ""}, guest),
              std::vector<std::string>{});
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", "serve", ""}, guest)), both);
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", "sync", a.name, ""}, guest)), both);
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", "log", "show", "--share", ""})), both);
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", "grant", guest, ""})),
              (std::set<std::string>{"view", "interact"}));
    EXPECT_EQ(as_set(bash_complete(script, {"tmuxguard", "grant", guest, "view", ""})), both);
}

// zsh (the same candidates, through compinit and _arguments): the CLI's
// commands, each usage form's options, the wrapper's options, and the
// compiled policy's shares.
TEST_F(Completion, ZshCompletesCommandsOptionsAndShares)
{
    const std::string file = installed_path("vendor-completions/_tmuxguard");
    ASSERT_NE(file, "") << "no zsh completion installed";
    Share a = share_make(World::get().unique_name("pair") + ".x");
    Share b = share_make(World::get().unique_name("ops"));
    ASSERT_NO_FATAL_FAILURE(policy_install({a.policy_line(), b.policy_line()}));
    const std::set<std::string> both = {a.name, b.name};
    const std::vector<UsageForm> forms = cli_usage_forms();
    ASSERT_GE(forms.size(), 14u);
    std::vector<std::string> lines = {"tmuxguard ", "tmuxguard-attach -", "tmuxguard-attach ",
                                      "tmuxguard-attach -r -t main ", "tmuxguard serve ",
                                      "tmuxguard log show --share "};
    for (const UsageForm& f : forms)
        lines.push_back("tmuxguard " + f.name + " --");
    const std::vector<std::set<std::string>> got =
        zsh_complete(file.substr(0, file.rfind('/')), lines, user("viewer").name);
    ASSERT_EQ(got.size(), lines.size());
    const std::vector<std::string> cmds = cli_commands(forms);
    EXPECT_EQ(got[0], as_set(cmds));
    EXPECT_EQ(got[1], (std::set<std::string>{"-r", "-n", "-t"}));
    for (std::size_t i = 2; i < 6; ++i)
        EXPECT_EQ(got[i], both) << lines[i];
    for (std::size_t i = 0; i < forms.size(); ++i) {
        for (const std::string& o : forms[i].options)
            EXPECT_EQ(got[6 + i].count(o), 1u)
                << "'" << lines[6 + i] << "<TAB>' does not offer " << o << "; got "
                << ::testing::PrintToString(got[6 + i]);
    }
}

}  // namespace
}  // namespace tge2e
