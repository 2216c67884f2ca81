// tmux configuration linter (tmux_lint.hpp; the tests name its numbered
// contract). Four layers, each re-implemented from reading tmux 3.3a:
//  - CfgLexer: cmd-parse.y's yylex and helpers (quotes, escapes, line
//    continuation, `~`/`$NAME`, `%if`, comments);
//  - CfgParser: the grammar, reduced to a tree of commands and `{ }` blocks;
//  - ShellSplitter: enough of sh to find each simple command's words;
//  - Linter: each command by its getopt template (arguments.c), option names
//    by prefix (options.c), then the rules.
#include "tmuxguard/tmux_lint.hpp"

#include "tmuxguard/names.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

namespace tg {
namespace {

constexpr int kEof = -1;
// Bytes lexed and shell-split over every nesting level together (clause 5).
constexpr std::size_t kWorkBudget = 16 * kLintMaxBytes;
// An alias body longer than this is linted where it is defined, but not
// expanded again at every use (which could multiply the work).
constexpr std::size_t kMaxAliasBody = 4096;
// The longest piece of the file a message quotes (clause 6).
constexpr std::size_t kExcerptMax = 40;
// Variables a file may assign (and names looked up) before more are ignored.
constexpr std::size_t kMaxAssignments = 1024;
// update-environment entries longer than this are not matched as patterns.
constexpr std::size_t kMaxPattern = 256;

// ------------------------------------------------------------ tables (tmux 3.3a)

// A command's name and its short alias (cmd_entry .name, .alias).
struct CommandName {
    std::string_view name;
    std::string_view alias;
};

// cmd.c's cmd_table in its order: the order decides prefix matches.
constexpr CommandName kCommandTable[] = {
    {"attach-session", "attach"}, {"bind-key", "bind"}, {"break-pane", "breakp"},
    {"capture-pane", "capturep"}, {"choose-buffer", ""}, {"choose-client", ""},
    {"choose-tree", ""}, {"clear-history", "clearhist"},
    {"clear-prompt-history", "clearphist"}, {"clock-mode", ""}, {"command-prompt", ""},
    {"confirm-before", "confirm"}, {"copy-mode", ""}, {"customize-mode", ""},
    {"delete-buffer", "deleteb"}, {"detach-client", "detach"}, {"display-menu", "menu"},
    {"display-message", "display"}, {"display-popup", "popup"}, {"display-panes", "displayp"},
    {"find-window", "findw"}, {"has-session", "has"}, {"if-shell", "if"},
    {"join-pane", "joinp"}, {"kill-pane", "killp"}, {"kill-server", ""},
    {"kill-session", ""}, {"kill-window", "killw"}, {"last-pane", "lastp"},
    {"last-window", "last"}, {"link-window", "linkw"}, {"list-buffers", "lsb"},
    {"list-clients", "lsc"}, {"list-commands", "lscm"}, {"list-keys", "lsk"},
    {"list-panes", "lsp"}, {"list-sessions", "ls"}, {"list-windows", "lsw"},
    {"load-buffer", "loadb"}, {"lock-client", "lockc"}, {"lock-server", "lock"},
    {"lock-session", "locks"}, {"move-pane", "movep"}, {"move-window", "movew"},
    {"new-session", "new"}, {"new-window", "neww"}, {"next-layout", "nextl"},
    {"next-window", "next"}, {"paste-buffer", "pasteb"}, {"pipe-pane", "pipep"},
    {"previous-layout", "prevl"}, {"previous-window", "prev"}, {"refresh-client", "refresh"},
    {"rename-session", "rename"}, {"rename-window", "renamew"}, {"resize-pane", "resizep"},
    {"resize-window", "resizew"}, {"respawn-pane", "respawnp"},
    {"respawn-window", "respawnw"}, {"rotate-window", "rotatew"}, {"run-shell", "run"},
    {"save-buffer", "saveb"}, {"select-layout", "selectl"}, {"select-pane", "selectp"},
    {"select-window", "selectw"}, {"send-keys", "send"}, {"send-prefix", ""},
    {"server-access", ""}, {"set-buffer", "setb"}, {"set-environment", "setenv"},
    {"set-hook", ""}, {"set-option", "set"}, {"set-window-option", "setw"},
    {"show-buffer", "showb"}, {"show-environment", "showenv"}, {"show-hooks", ""},
    {"show-messages", "showmsgs"}, {"show-options", "show"},
    {"show-prompt-history", "showphist"}, {"show-window-options", "showw"},
    {"source-file", "source"}, {"split-window", "splitw"}, {"start-server", "start"},
    {"suspend-client", "suspendc"}, {"swap-pane", "swapp"}, {"swap-window", "swapw"},
    {"switch-client", "switchc"}, {"unbind-key", "unbind"}, {"unlink-window", "unlinkw"},
    {"wait-for", "wait"},
};

// How the linter reads a command's arguments.
enum class CmdKind : std::uint8_t {
    run_shell,       // [shell-command], or commands with -C
    if_shell,        // shell-command (a format with -F), command, [command]
    bind_key,        // key [command...]
    set_option,      // option [value]
    set_hook,        // hook [command]
    source_file,     // path...
    shell_tail,      // [shell-command...]: one string for sh -c, or an argv
    detach_client,   // -E shell-command
    command_arg,     // [template]: one command string
    display_menu,    // name key command triples, "" a separator
    switch_client,   // -r toggles the client's read-only flag
    server_access,   // -a/-w/-r grant socket users access
    send_keys,       // keys typed into the pane
    literal_args,    // arguments that are data, formats only with -F
};

// A command the rules look into, with its flags template.
struct CommandSpec {
    std::string_view name;
    std::string_view getopt;  // the .args template of the command's cmd_entry
    CmdKind kind;
};

constexpr CommandSpec kCommandSpecs[] = {
    {"run-shell", "bd:Ct:", CmdKind::run_shell},
    {"if-shell", "bFt:", CmdKind::if_shell},
    {"bind-key", "nrN:T:", CmdKind::bind_key},
    {"set-option", "aFgopqst:uUw", CmdKind::set_option},
    {"set-window-option", "aFgoqt:u", CmdKind::set_option},
    {"set-hook", "agpRt:uw", CmdKind::set_hook},
    {"source-file", "Fnqv", CmdKind::source_file},
    {"new-session", "Ac:dDe:EF:f:n:Ps:t:x:Xy:", CmdKind::shell_tail},
    {"new-window", "abc:de:F:kn:PSt:", CmdKind::shell_tail},
    {"split-window", "bc:de:fF:hIl:p:Pt:vZ", CmdKind::shell_tail},
    {"respawn-pane", "c:e:kt:", CmdKind::shell_tail},
    {"respawn-window", "c:e:kt:", CmdKind::shell_tail},
    {"pipe-pane", "IOot:", CmdKind::shell_tail},
    {"display-popup", "Bb:Cc:d:e:Eh:s:S:t:T:w:x:y:", CmdKind::shell_tail},
    {"detach-client", "aE:s:t:P", CmdKind::detach_client},
    {"command-prompt", "1bFkiI:Np:t:T:", CmdKind::command_arg},
    {"confirm-before", "bp:t:", CmdKind::command_arg},
    {"choose-tree", "F:f:GK:NO:rst:wZ", CmdKind::command_arg},
    {"choose-client", "F:f:K:NO:rt:Z", CmdKind::command_arg},
    {"choose-buffer", "F:f:K:NO:rt:Z", CmdKind::command_arg},
    {"display-menu", "c:t:OT:x:y:", CmdKind::display_menu},
    {"switch-client", "lc:EFnpt:rT:Z", CmdKind::switch_client},
    {"server-access", "adlrw", CmdKind::server_access},
    {"send-keys", "FHlMN:Rt:X", CmdKind::send_keys},
    {"set-buffer", "ab:t:n:w", CmdKind::literal_args},
    {"set-environment", "Fhgrt:u", CmdKind::literal_args},
};

// options-table.c's names in its order (options, then hooks): the order
// decides prefix matches.
constexpr std::string_view kOptionTable[] = {
    "backspace", "buffer-limit", "command-alias", "copy-command", "cursor-colour",
    "cursor-style", "default-terminal", "editor", "escape-time", "exit-empty",
    "exit-unattached", "extended-keys", "focus-events", "history-file", "message-limit",
    "prompt-history-limit", "set-clipboard", "terminal-overrides", "terminal-features",
    "user-keys", "activity-action", "assume-paste-time", "base-index", "bell-action",
    "default-command", "default-shell", "default-size", "destroy-unattached",
    "detach-on-destroy", "display-panes-active-colour", "display-panes-colour",
    "display-panes-time", "display-time", "history-limit", "key-table", "lock-after-time",
    "lock-command", "message-command-style", "message-style", "mouse", "prefix", "prefix2",
    "renumber-windows", "repeat-time", "set-titles", "set-titles-string", "silence-action",
    "status", "status-bg", "status-fg", "status-format", "status-interval", "status-justify",
    "status-keys", "status-left", "status-left-length", "status-left-style",
    "status-position", "status-right", "status-right-length", "status-right-style",
    "status-style", "update-environment", "visual-activity", "visual-bell",
    "visual-silence", "word-separators", "aggressive-resize", "allow-passthrough",
    "allow-rename", "alternate-screen", "automatic-rename", "automatic-rename-format",
    "clock-mode-colour", "clock-mode-style", "copy-mode-match-style",
    "copy-mode-current-match-style", "copy-mode-mark-style", "fill-character",
    "main-pane-height", "main-pane-width", "mode-keys", "mode-style", "monitor-activity",
    "monitor-bell", "monitor-silence", "other-pane-height", "other-pane-width",
    "pane-active-border-style", "pane-base-index", "pane-border-format",
    "pane-border-indicators", "pane-border-lines", "pane-border-status",
    "pane-border-style", "pane-colours", "popup-style", "popup-border-style",
    "popup-border-lines", "remain-on-exit", "remain-on-exit-format", "scroll-on-clear",
    "synchronize-panes", "window-active-style", "window-size", "window-style",
    "window-status-activity-style", "window-status-bell-style",
    "window-status-current-format", "window-status-current-style", "window-status-format",
    "window-status-last-style", "window-status-separator", "window-status-style",
    "wrap-search", "xterm-keys",
    // Hooks (OPTIONS_TABLE_HOOK): their values are commands.
    "after-bind-key", "after-capture-pane", "after-copy-mode", "after-display-message",
    "after-display-panes", "after-kill-pane", "after-list-buffers", "after-list-clients",
    "after-list-keys", "after-list-panes", "after-list-sessions", "after-list-windows",
    "after-load-buffer", "after-lock-server", "after-new-session", "after-new-window",
    "after-paste-buffer", "after-pipe-pane", "after-queue", "after-refresh-client",
    "after-rename-session", "after-rename-window", "after-resize-pane",
    "after-resize-window", "after-save-buffer", "after-select-layout", "after-select-pane",
    "after-select-window", "after-send-keys", "after-set-buffer", "after-set-environment",
    "after-set-hook", "after-set-option", "after-show-environment", "after-show-messages",
    "after-show-options", "after-split-window", "after-unbind-key", "alert-activity",
    "alert-bell", "alert-silence", "client-active", "client-attached", "client-detached",
    "client-focus-in", "client-focus-out", "client-resized", "client-session-changed",
    "pane-died", "pane-exited", "pane-focus-in", "pane-focus-out", "pane-mode-changed",
    "pane-set-clipboard", "pane-title-changed", "session-closed", "session-created",
    "session-renamed", "session-window-changed", "window-layout-changed", "window-linked",
    "window-pane-changed", "window-renamed", "window-resized", "window-unlinked",
};
constexpr std::string_view kFirstHook = "after-bind-key";

// options_other_names: old spellings tmux still accepts.
constexpr std::pair<std::string_view, std::string_view> kOptionOtherNames[] = {
    {"display-panes-color", "display-panes-colour"},
    {"display-panes-active-color", "display-panes-active-colour"},
    {"clock-mode-color", "clock-mode-colour"},
    {"cursor-color", "cursor-colour"},
    {"pane-colors", "pane-colours"},
};

// The default command-alias entries.
constexpr std::pair<std::string_view, std::string_view> kDefaultAliases[] = {
    {"split-pane", "split-window"}, {"splitp", "split-window"},
    {"server-info", "show-messages -JT"}, {"info", "show-messages -JT"},
    {"choose-window", "choose-tree -w"}, {"choose-session", "choose-tree -s"},
};

// Programs that run a command with someone else's rights.
constexpr std::string_view kPrivilegeTools[] = {"sudo", "sudoedit", "su", "doas", "pkexec",
                                                "runuser", "run0", "ksu"};
// Shells whose -c argument is a script.
constexpr std::string_view kShells[] = {"sh", "bash", "dash", "zsh", "ksh", "mksh",
                                        "ash", "yash", "posh", "rbash", "fish"};
// Words after which the next word is still a command name.
constexpr std::string_view kReservedWords[] = {"!", "{", "}", "then", "do", "else", "elif",
                                               "if", "while", "until"};
// Commands that run their (non-option) arguments as a command.
constexpr std::string_view kWrappers[] = {"exec", "command", "builtin", "nohup", "nice",
                                          "ionice", "setsid", "stdbuf", "timeout", "xargs",
                                          "chronic", "unbuffer", "busybox", "chrt", "taskset",
                                          "watch", "env", "time"};

// Variables that update-environment copies from an attaching client.
struct SecretVariable {
    std::string_view name;
    LintSeverity severity;
};
constexpr SecretVariable kSecretVariables[] = {
    {"SSH_AUTH_SOCK", LintSeverity::high},        // the guest's ssh-agent
    {"KRB5CCNAME", LintSeverity::high},           // the guest's Kerberos tickets
    {"GPG_AGENT_INFO", LintSeverity::high},       // the guest's gpg-agent
    {"SSH_ASKPASS", LintSeverity::medium},        // a program the owner's ssh would run
    {"SSH_AGENT_PID", LintSeverity::medium},
    {"DBUS_SESSION_BUS_ADDRESS", LintSeverity::medium},
    {"XAUTHORITY", LintSeverity::medium},
    {"DISPLAY", LintSeverity::medium},
    {"WAYLAND_DISPLAY", LintSeverity::medium},
};
// Name parts that mark a variable whose value is itself a credential.
constexpr std::string_view kCredentialWords[] = {"TOKEN", "SECRET", "PASSWORD", "PASSWD",
                                                 "CREDENTIAL", "API_KEY", "PRIVATE_KEY"};

constexpr std::string_view kFixPrivilege =
    "run privileged commands by hand in a pane, not from the tmux config";

// ------------------------------------------------------------ small helpers

template <std::size_t N>
bool list_has(const std::string_view (&list)[N], std::string_view s)
{
    return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

// ASCII only: the C locale's isdigit, without the locale.
bool char_is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

// ASCII letters and digits (tmux's isalnum in the C locale).
bool char_is_alnum(int ch)
{
    return char_is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

// yylex_is_var: a character of an environment variable's name.
bool char_is_var(int ch, bool first)
{
    if (ch == '=' || (first && char_is_digit(ch)))
        return false;
    return char_is_alnum(ch) || ch == '_';
}

// A short piece of the file for a message: at most kExcerptMax bytes.
std::string excerpt(std::string_view s)
{
    if (s.size() <= kExcerptMax)
        return std::string(s);
    return std::string(s.substr(0, kExcerptMax)) + "...";
}

// The part of a path after the last '/'.
std::string_view path_base(std::string_view s)
{
    std::size_t slash = s.rfind('/');
    return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

// NAME=... with NAME a shell variable name.
bool word_is_assignment(std::string_view w)
{
    std::size_t eq = w.find('=');
    if (eq == 0 || eq == std::string_view::npos)
        return false;
    for (std::size_t i = 0; i < eq; ++i) {
        if (!char_is_var(static_cast<unsigned char>(w[i]), i == 0))
            return false;
    }
    return true;
}

// A number or a duration such as "5", "0.5", "10s", "0x3" (a wrapper's argument).
bool word_is_number(std::string_view w)
{
    if (w.empty() || !char_is_digit(static_cast<unsigned char>(w[0])))
        return false;
    return std::all_of(w.begin(), w.end(), [](char c) {
        return char_is_alnum(static_cast<unsigned char>(c)) || c == '.';
    });
}

// An ASCII letter in lower case.
char char_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

// Case-insensitive equality with an ASCII word.
bool equals_nocase(std::string_view a, std::string_view b)
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(),
                      [](char x, char y) { return char_lower(x) == char_lower(y); });
}

// The UTF-8 bytes of a code point, or nothing for one UTF-8 cannot carry.
std::optional<std::string> utf8_encode(unsigned long cp)
{
    std::string out;
    if (cp > 0x10ffff || !utf8_append(out, static_cast<std::uint32_t>(cp)))
        return std::nullopt;
    return out;
}

// One pattern character (?, [...], \x, or itself) at p[pi] against `ch`;
// `next` receives the index after it. An unclosed '[' is itself.
bool glob_one(std::string_view p, std::size_t pi, char ch, std::size_t& next)
{
    if (p[pi] == '?') {
        next = pi + 1;
        return true;
    }
    if (p[pi] == '\\' && pi + 1 < p.size()) {
        next = pi + 2;
        return p[pi + 1] == ch;
    }
    if (p[pi] == '[') {
        std::size_t j = pi + 1;
        const bool negate = j < p.size() && (p[j] == '!' || p[j] == '^');
        if (negate)
            ++j;
        bool matched = false;
        for (bool first = true; j < p.size() && (p[j] != ']' || first); first = false) {
            char lo = p[j];
            if (lo == '\\' && j + 1 < p.size())
                lo = p[++j];
            if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
                matched = matched || (lo <= ch && ch <= p[j + 2]);
                j += 3;
            } else {
                matched = matched || lo == ch;
                ++j;
            }
        }
        if (j < p.size()) {
            next = j + 1;
            return matched != negate;
        }
    }
    next = pi + 1;
    return p[pi] == ch;
}

// fnmatch(pattern, name, 0) for *, ?, [...] and backslash, in time
// O(|pattern| x |name|) whatever the pattern (a backtracking fnmatch can be
// made to take exponential time).
bool glob_match(std::string_view p, std::string_view s)
{
    std::size_t pi = 0;
    std::size_t si = 0;
    std::size_t star_p = std::string_view::npos;
    std::size_t star_s = 0;
    while (si < s.size()) {
        if (pi < p.size() && p[pi] == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        std::size_t next = 0;
        if (pi < p.size() && glob_one(p, pi, s[si], next)) {
            pi = next;
            ++si;
            continue;
        }
        if (star_p == std::string_view::npos)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < p.size() && p[pi] == '*')
        ++pi;
    return pi == p.size();
}

// cmd_find: an exact alias, else an exact name, else a unique prefix (with
// tmux's own treatment of a prefix seen before an exact match).
std::optional<std::string_view> command_resolve(std::string_view name)
{
    const CommandName* found = nullptr;
    bool ambiguous = false;
    for (const CommandName& e : kCommandTable) {
        if (!e.alias.empty() && e.alias == name) {
            ambiguous = false;
            found = &e;
            break;
        }
        if (!e.name.starts_with(name))
            continue;
        if (found != nullptr)
            ambiguous = true;
        found = &e;
        if (e.name == name)
            break;
    }
    if (ambiguous || found == nullptr)
        return std::nullopt;
    return found->name;
}

// The linter's reading of a command, or null for one it treats generically.
const CommandSpec* command_spec(std::string_view name)
{
    for (const CommandSpec& s : kCommandSpecs) {
        if (s.name == name)
            return &s;
    }
    return nullptr;
}

// options_match without the user options: the old spelling mapped, then an
// exact name or a unique prefix.
std::optional<std::string_view> option_resolve(std::string_view name)
{
    for (const auto& [from, to] : kOptionOtherNames) {
        if (from == name)
            name = to;
    }
    if (name.empty())
        return std::nullopt;
    std::optional<std::string_view> found;
    for (std::string_view o : kOptionTable) {
        if (o == name)
            return o;
        if (o.starts_with(name)) {
            if (found)
                return std::nullopt;
            found = o;
        }
    }
    return found;
}

// Whether a resolved option is a hook (its value is commands).
bool option_is_hook(std::string_view canonical)
{
    const auto* first = std::find(std::begin(kOptionTable), std::end(kOptionTable), kFirstHook);
    return std::find(first, std::end(kOptionTable), canonical) != std::end(kOptionTable);
}

// options_parse: "name[N]" -> name, and whether an index was given; nullopt
// for a malformed index (tmux refuses the command).
std::optional<std::pair<std::string, bool>> option_name_parse(std::string_view raw)
{
    std::size_t open = raw.find('[');
    if (open == std::string_view::npos)
        return std::pair<std::string, bool>(std::string(raw), false);
    if (raw.back() != ']' || raw.size() < open + 3)
        return std::nullopt;
    std::string_view digits = raw.substr(open + 1, raw.size() - open - 2);
    if (!std::all_of(digits.begin(), digits.end(),
                     [](char c) { return char_is_digit(static_cast<unsigned char>(c)); }))
        return std::nullopt;
    return std::pair<std::string, bool>(std::string(raw.substr(0, open)), true);
}

// options_from_string_flag: no value toggles (every flag the rules look at
// is off by default, so a toggle turns it on); 1/on/yes in any case is on.
bool flag_value_is_on(const std::string* value)
{
    if (value == nullptr || value->empty())
        return true;
    return *value == "1" || equals_nocase(*value, "on") || equals_nocase(*value, "yes");
}

// Splits an array option's value as options_array_assign does.
std::vector<std::string> list_split(std::string_view value, std::string_view separators)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= value.size()) {
        std::size_t end = value.find_first_of(separators, start);
        if (end == std::string_view::npos)
            end = value.size();
        if (end > start)
            out.emplace_back(value.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// ------------------------------------------------------------ shared state

// Work left for one lint (contract clause 5).
struct Budget {
    std::size_t left = kWorkBudget;
    bool exhausted = false;

    // Takes `n` bytes of work; false (and exhausted) when there is not enough.
    bool take(std::size_t n)
    {
        if (n > left) {
            left = 0;
            exhausted = true;
            return false;
        }
        left -= n;
        return true;
    }
};

// Variables as tmux sees them while parsing: the caller's environment under
// the file's own assignments. Values are handed out as views (an expansion
// is charged to the budget before it is copied anywhere).
class Vars {
public:
    explicit Vars(const LintEnv& env) : env_(env) {}

    // The value of $NAME, if it has one.
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name)
    {
        if (auto it = overlay_.find(name); it != overlay_.end())
            return std::string_view(it->second);
        return cached(env_cache_, name, env_.variable);
    }
    // A NAME=value assignment of the file.
    void set(std::string_view assignment)
    {
        std::size_t eq = assignment.find('=');
        if (eq == std::string_view::npos)
            return;
        std::string name(assignment.substr(0, eq));
        if (overlay_.size() < kMaxAssignments || overlay_.contains(name))
            overlay_[name] = std::string(assignment.substr(eq + 1));
    }
    // The home directory of `user` ("" for the caller: $HOME).
    [[nodiscard]] std::optional<std::string_view> home_of(std::string_view user)
    {
        if (user.empty()) {
            std::optional<std::string_view> home = get("HOME");
            return home && !home->empty() ? home : std::nullopt;
        }
        return cached(home_cache_, user, env_.user_home);
    }

private:
    using Lookup = std::function<std::optional<std::string>(std::string_view)>;
    using Cache = std::map<std::string, std::optional<std::string>, std::less<>>;

    // One answer per name from `lookup`, kept so that views stay valid.
    static std::optional<std::string_view> cached(Cache& cache, std::string_view name,
                                                  const Lookup& lookup)
    {
        auto it = cache.find(name);
        if (it == cache.end()) {
            if (!lookup || cache.size() >= kMaxAssignments)
                return std::nullopt;
            it = cache.emplace(std::string(name), lookup(name)).first;
        }
        if (!it->second)
            return std::nullopt;
        return std::string_view(*it->second);
    }

    const LintEnv& env_;
    std::map<std::string, std::string, std::less<>> overlay_;
    Cache env_cache_;
    Cache home_cache_;
};

// Line numbers from byte offsets.
class LineIndex {
public:
    explicit LineIndex(std::string_view text)
    {
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\n')
                newlines_.push_back(i);
        }
    }
    // 1 + the newlines before `offset`.
    [[nodiscard]] int line_of(std::size_t offset) const
    {
        auto it = std::lower_bound(newlines_.begin(), newlines_.end(), offset);
        return static_cast<int>(it - newlines_.begin()) + 1;
    }

private:
    std::vector<std::size_t> newlines_;
};

// ------------------------------------------------------------ lexer (yylex)

enum class Tok : std::uint8_t {
    end, newline, semicolon, lbrace, rbrace, if_open, elif, else_, endif, hidden,
    format, token, equals, error,
};

// One token and where it starts in the text.
struct Token {
    Tok kind = Tok::end;
    std::string text;
    std::size_t offset = 0;  // where the token starts
};

// cmd-parse.y's lexer over a buffer, from reading yylex() and its helpers.
class CfgLexer {
public:
    // `charged`: every byte read costs budget (derived text: command
    // strings). The file itself is bounded by kLintMaxBytes instead, so
    // that what it costs does not depend on its comments.
    CfgLexer(std::string_view text, Vars& vars, Budget& budget, bool charged)
        : buf_(text), vars_(vars), budget_(budget), charged_(charged)
    {
    }

    // yylex: the next token; after the end, Tok::end forever.
    Token next();
    // Where the lexer is in the text.
    [[nodiscard]] std::size_t offset() const { return off_; }

private:
    enum class Quote : std::uint8_t { start, none, dbl, sgl };

    int getc_raw();
    void ungetc(int ch);
    int getc();
    std::string word_read(int ch);
    std::optional<std::string> format_read();
    std::optional<std::string> token_read(int ch);
    bool token_escape(std::string& buf);
    bool token_unicode(std::string& buf, int digits);
    bool token_variable(std::string& buf);
    bool token_tilde(std::string& buf);
    // Appends an expansion if the budget allows it.
    void expansion_append(std::string& buf, std::string_view value)
    {
        if (budget_.take(value.size()))
            buf += value;
    }

    std::string_view buf_;
    Vars& vars_;
    Budget& budget_;
    bool charged_;
    std::size_t off_ = 0;
    std::size_t escapes_ = 0;
    bool condition_ = false;
    bool eof_ = false;
};

// yylex_getc1 on a buffer, charged to the budget; an exhausted budget ends
// the text where it ran out (offset() stays there, for the limit finding).
int CfgLexer::getc_raw()
{
    if (off_ >= buf_.size() || budget_.exhausted || (charged_ && !budget_.take(1)))
        return kEof;
    return static_cast<unsigned char>(buf_[off_++]);
}

// yylex_ungetc: one step back (never past the start, never for EOF).
void CfgLexer::ungetc(int ch)
{
    if (off_ > 0 && ch != kEof)
        --off_;
}

// yylex_getc: backslashes are counted so that an odd number before a newline
// joins the lines (clause 1: line continuation, even inside comments).
int CfgLexer::getc()
{
    if (escapes_ != 0) {
        --escapes_;
        return '\\';
    }
    for (;;) {
        int ch = getc_raw();
        if (ch == '\\') {
            ++escapes_;
            continue;
        }
        if (ch == '\n' && escapes_ % 2 == 1) {
            --escapes_;
            continue;
        }
        if (escapes_ != 0) {
            ungetc(ch);
            --escapes_;
            return '\\';
        }
        return ch;
    }
}

// yylex_get_word: raw characters up to a blank or newline.
std::string CfgLexer::word_read(int ch)
{
    std::string w;
    do
        w += static_cast<char>(ch);
    while ((ch = getc()) != kEof && ch != 0 && ch != ' ' && ch != '\t' && ch != '\n');
    ungetc(ch);
    return w;
}

// yylex_format: "#{...}" after %if/%elif, braces counted; no newline.
std::optional<std::string> CfgLexer::format_read()
{
    std::string out = "#{";
    long brackets = 1;
    for (;;) {
        int ch = getc();
        if (ch == kEof || ch == '\n') {
            ungetc(ch);
            return std::nullopt;
        }
        if (ch == '#') {
            ch = getc();
            if (ch == kEof || ch == '\n') {
                ungetc(ch);
                return std::nullopt;
            }
            if (ch == '{')
                ++brackets;
            out += '#';
        } else if (ch == '}') {
            if (brackets != 0 && --brackets == 0) {
                out += '}';
                return out;
            }
        }
        out += static_cast<char>(ch);
    }
}

// yylex: whitespace, newlines, ; { }, comments, %-directives, then tokens.
Token CfgLexer::next()
{
    const bool condition = condition_;
    condition_ = false;
    for (;;) {
        const std::size_t at = off_;
        int ch = getc();
        if (ch == kEof) {
            if (eof_)
                return {Tok::end, {}, off_};
            eof_ = true;
            return {Tok::newline, {}, off_};
        }
        if (ch == ' ' || ch == '\t')
            continue;
        if (ch == '\n')
            return {Tok::newline, {}, at};
        if (ch == ';')
            return {Tok::semicolon, {}, at};
        if (ch == '{')
            return {Tok::lbrace, {}, at};
        if (ch == '}')
            return {Tok::rbrace, {}, at};
        if (ch == '#') {
            int nx = getc();
            if (condition && nx == '{') {
                std::optional<std::string> f = format_read();
                return f ? Token{Tok::format, std::move(*f), at} : Token{Tok::error, {}, at};
            }
            while (nx != '\n' && nx != kEof)
                nx = getc();
            if (nx == '\n')
                return {Tok::newline, {}, at};
            continue;
        }
        if (ch == '%') {
            std::string w = word_read('%');
            if (std::all_of(w.begin(), w.end(), [](char c) {
                    return c == '%' || char_is_digit(static_cast<unsigned char>(c));
                }))
                return {Tok::token, std::move(w), at};
            condition_ = true;
            Tok kind = w == "%hidden" ? Tok::hidden
                       : w == "%if"   ? Tok::if_open
                       : w == "%else" ? Tok::else_
                       : w == "%elif" ? Tok::elif
                       : w == "%endif" ? Tok::endif
                                       : Tok::error;
            return {kind, {}, at};
        }
        std::optional<std::string> token = token_read(ch);
        if (!token)
            return {Tok::error, {}, at};
        std::string& t = *token;
        Tok kind = Tok::token;
        if (t.find('=') != std::string::npos &&
            char_is_var(static_cast<unsigned char>(t[0]), true)) {
            std::size_t i = 1;
            while (t[i] != '=' && char_is_var(static_cast<unsigned char>(t[i]), false))
                ++i;
            if (t[i] == '=')
                kind = Tok::equals;
        }
        return {kind, std::move(t), at};
    }
}

// yylex_token: quotes, escapes, `~` and `$` expansion; ends at a blank, ;,
// } or newline outside quotes. A NUL ends the string as tmux's C string does.
std::optional<std::string> CfgLexer::token_read(int ch)
{
    Quote state = Quote::none;
    Quote last = Quote::start;
    std::string buf;
    for (;;) {
        if (ch == kEof || (state == Quote::none && ch == '\n'))
            break;
        if ((ch == ' ' || ch == '\t' || ch == ';' || ch == '}') && state == Quote::none)
            break;
        if (ch == '\n') {
            // Inside quotes: the newline stays, leading blanks and comment
            // lines after it go.
            buf += '\n';
            while ((ch = getc()) == ' ' || ch == '\t') {
            }
            if (ch != '#')
                continue;
            ch = getc();
            if (ch == 0 || (ch != kEof && std::string_view(",#{}:").find(static_cast<char>(ch)) !=
                                              std::string_view::npos)) {
                ungetc(ch);
                ch = '#';
            } else {
                while ((ch = getc()) != '\n' && ch != kEof) {
                }
            }
            continue;
        }
        bool ok = true;
        if (ch == '\\' && state != Quote::sgl) {
            ok = token_escape(buf);
            last = state;
        } else if (ch == '~' && last != state && state != Quote::sgl) {
            ok = token_tilde(buf);
            last = state;
        } else if (ch == '$' && state != Quote::sgl) {
            ok = token_variable(buf);
            last = state;
        } else if (ch == '\'' && (state == Quote::none || state == Quote::sgl)) {
            state = state == Quote::none ? Quote::sgl : Quote::none;
        } else if (ch == '"' && (state == Quote::none || state == Quote::dbl)) {
            state = state == Quote::none ? Quote::dbl : Quote::none;
        } else {
            buf += static_cast<char>(ch);
            last = state;
        }
        if (!ok)
            return std::nullopt;
        ch = getc();
    }
    ungetc(ch);
    if (std::size_t nul = buf.find('\0'); nul != std::string::npos)
        buf.resize(nul);
    return buf;
}

// yylex_token_escape: octal \0NN-\3NN, \a \b \e \f \s \v \r \n \t, \u/\U,
// anything else stands for itself (so "\;" is a literal ';').
bool CfgLexer::token_escape(std::string& buf)
{
    int ch = getc();
    if (ch >= '4' && ch <= '7')
        return false;
    if (ch >= '0' && ch <= '3') {
        int o2 = getc();
        if (o2 >= '0' && o2 <= '7') {
            int o3 = getc();
            if (o3 >= '0' && o3 <= '7') {
                buf += static_cast<char>(64 * (ch - '0') + 8 * (o2 - '0') + (o3 - '0'));
                return true;
            }
        }
        return false;
    }
    switch (ch) {
    case kEof: return false;
    case 'a': ch = '\a'; break;
    case 'b': ch = '\b'; break;
    case 'e': ch = '\033'; break;
    case 'f': ch = '\f'; break;
    case 's': ch = ' '; break;
    case 'v': ch = '\v'; break;
    case 'r': ch = '\r'; break;
    case 'n': ch = '\n'; break;
    case 't': ch = '\t'; break;
    case 'u': return token_unicode(buf, 4);
    case 'U': return token_unicode(buf, 8);
    default: break;
    }
    buf += static_cast<char>(ch);
    return true;
}

// \uXXXX or \UXXXXXXXX as UTF-8.
bool CfgLexer::token_unicode(std::string& buf, int digits)
{
    unsigned long cp = 0;
    for (int i = 0; i < digits; ++i) {
        int ch = getc();
        int v = char_is_digit(ch)             ? ch - '0'
                : (ch >= 'a' && ch <= 'f')    ? ch - 'a' + 10
                : (ch >= 'A' && ch <= 'F')    ? ch - 'A' + 10
                                              : -1;
        if (v < 0)
            return false;
        cp = cp * 16 + static_cast<unsigned long>(v);
    }
    std::optional<std::string> bytes = utf8_encode(cp);
    if (!bytes)
        return false;
    buf += *bytes;
    return true;
}

// yylex_token_variable: $NAME or ${NAME}; an unset variable is nothing.
bool CfgLexer::token_variable(std::string& buf)
{
    int ch = getc();
    if (ch == kEof)
        return false;
    bool brackets = ch == '{';
    std::string name;
    if (!brackets) {
        if (!char_is_var(ch, true)) {
            buf += '$';
            ungetc(ch);
            return true;
        }
        name += static_cast<char>(ch);
    }
    for (;;) {
        ch = getc();
        if (brackets && ch == '}')
            break;
        if (ch == kEof || !char_is_var(ch, false)) {
            if (brackets)
                return false;
            ungetc(ch);
            break;
        }
        if (name.size() >= 1022)
            return false;
        name += static_cast<char>(ch);
    }
    if (std::optional<std::string_view> value = vars_.get(name))
        expansion_append(buf, *value);
    return true;
}

// yylex_token_tilde: ~ or ~USER up to / blank newline or quote. Unknown
// here (no HOME, no such user) it stays as written (tmux would fail).
bool CfgLexer::token_tilde(std::string& buf)
{
    std::string name;
    for (;;) {
        int ch = getc();
        if (ch == kEof || ch == 0 ||
            std::string_view("/ \t\n\"'").find(static_cast<char>(ch)) != std::string_view::npos) {
            ungetc(ch);
            break;
        }
        if (name.size() >= 1022)
            return false;
        name += static_cast<char>(ch);
    }
    if (std::optional<std::string_view> home = vars_.home_of(name))
        expansion_append(buf, *home);
    else
        buf += "~" + name;
    return true;
}

// ------------------------------------------------------------ parser

struct CfgCmd;

// One argument: a string or a `{ }` block of commands.
struct CfgArg {
    bool is_block = false;
    std::string text;
    std::vector<CfgCmd> block;
};

// One command: the line it starts on and its arguments, name first.
struct CfgCmd {
    int line = 0;
    std::vector<CfgArg> args;
};

// The grammar of cmd-parse.y reduced to what the linter needs: statements
// separated by newlines and `;`, `{ }` blocks as arguments, every branch of
// `%if` kept, assignments applied to Vars.
class CfgParser {
public:
    // `lines` null: every command gets `fixed_line` (a command string).
    CfgParser(CfgLexer& lex, const LineIndex* lines, int fixed_line, Vars& vars, int depth)
        : lex_(lex), lines_(lines), fixed_line_(fixed_line), vars_(vars), depth_(depth)
    {
    }

    std::vector<CfgCmd> parse() { return statements(depth_, false); }
    // Lines whose `{ }` nesting went deeper than kLintMaxDepth.
    [[nodiscard]] const std::vector<int>& limited_lines() const { return limited_; }
    // The line the lexer stopped at.
    [[nodiscard]] int line_now() const
    {
        return lines_ ? lines_->line_of(lex_.offset()) : fixed_line_;
    }

private:
    Token take()
    {
        if (pending_) {
            Token t = std::move(*pending_);
            pending_.reset();
            return t;
        }
        return lex_.next();
    }
    void put_back(Token t) { pending_ = std::move(t); }
    int line_of(const Token& t) const { return lines_ ? lines_->line_of(t.offset) : fixed_line_; }
    std::vector<CfgCmd> statements(int depth, bool in_block);
    void block_skip();

    CfgLexer& lex_;
    const LineIndex* lines_;
    int fixed_line_;
    Vars& vars_;
    int depth_;
    std::optional<Token> pending_;
    std::vector<int> limited_;
};

// Statements up to the end (or the `}` closing this block). Depth is
// bounded: a block nested deeper is skipped and its line recorded.
std::vector<CfgCmd> CfgParser::statements(int depth, bool in_block)
{
    std::vector<CfgCmd> out;
    CfgCmd cur;
    bool have = false;
    auto flush = [&] {
        if (have)
            out.push_back(std::move(cur));
        cur = CfgCmd{};
        have = false;
    };
    auto start = [&](const Token& t) {
        if (!have)
            cur.line = line_of(t);
        have = true;
    };
    for (;;) {
        Token t = take();
        switch (t.kind) {
        case Tok::end:
            flush();
            return out;
        case Tok::newline:
        case Tok::semicolon:
        case Tok::else_:
        case Tok::endif:
            flush();
            break;
        case Tok::rbrace:
            flush();
            if (in_block)
                return out;
            break;
        case Tok::if_open:
        case Tok::elif: {
            flush();
            Token cond = take();  // the condition is not evaluated: all branches count
            if (cond.kind != Tok::format && cond.kind != Tok::token && cond.kind != Tok::equals)
                put_back(std::move(cond));
            break;
        }
        case Tok::hidden: {
            Token a = take();
            if (a.kind == Tok::equals)
                vars_.set(a.text);
            else
                put_back(std::move(a));
            break;
        }
        case Tok::format:
        case Tok::error:
            break;
        case Tok::lbrace: {
            start(t);
            CfgArg arg;
            arg.is_block = true;
            if (depth + 1 >= kLintMaxDepth) {
                limited_.push_back(line_of(t));
                block_skip();
            } else {
                arg.block = statements(depth + 1, true);
            }
            cur.args.push_back(std::move(arg));
            break;
        }
        case Tok::token:
        case Tok::equals:
            if (!have && t.kind == Tok::equals) {
                vars_.set(t.text);
                break;
            }
            start(t);
            cur.args.push_back(CfgArg{false, std::move(t.text), {}});
            break;
        }
    }
}

// Skips tokens up to the `}` that balances an already-read `{` (iteratively).
void CfgParser::block_skip()
{
    std::size_t open = 1;
    while (open > 0) {
        Token t = take();
        if (t.kind == Tok::end) {
            put_back(std::move(t));
            return;
        }
        if (t.kind == Tok::lbrace)
            ++open;
        else if (t.kind == Tok::rbrace)
            --open;
    }
}

// ------------------------------------------------------------ shell splitting

// One word of a simple command, quotes removed; `plain` is false when it
// holds an expansion whose value is unknown here ($VAR, $(...), `...`);
// `var` names the variable when the word is nothing but "$NAME"/"${NAME}".
struct ShWord {
    std::string text;
    bool plain = true;
    std::string var;
};

using ShCommand = std::vector<ShWord>;

// Splits a shell script into simple commands, the way sh reads them closely
// enough to find command names: quotes, backslashes, operators, redirections
// (their targets dropped), here-documents (bodies skipped), comments. Each
// $(...), `...`, <(...) and >(...) goes to `on_subst` as a script of its own.
class ShellSplitter {
public:
    ShellSplitter(std::string_view s, std::function<void(std::string_view)> on_subst)
        : s_(s), on_subst_(std::move(on_subst))
    {
    }
    std::vector<ShCommand> split();

private:
    void word_end();
    void command_end();
    std::size_t paren_end(std::size_t open) const;
    std::size_t dollar(std::size_t i);
    std::size_t backquote(std::size_t i);
    std::size_t double_quoted(std::size_t i);
    std::size_t redirect(std::size_t i);
    std::size_t heredocs_skip(std::size_t i);
    void word_unknown(const std::string& marker)
    {
        word_.text += marker;
        word_.plain = false;
        in_word_ = true;
    }

    std::string_view s_;
    std::function<void(std::string_view)> on_subst_;
    std::vector<ShCommand> out_;
    ShCommand cmd_;
    ShWord word_;
    bool in_word_ = false;
    bool target_ = false;   // the next word is a redirection's target
    bool heredoc_ = false;  // ... and the delimiter of a here-document
    bool strip_tabs_ = false;
    std::vector<std::pair<std::string, bool>> heredocs_;  // delimiter, <<-
};

// Ends the current word: a redirection target is dropped (a here-document's
// delimiter remembered), anything else joins the command.
void ShellSplitter::word_end()
{
    if (!in_word_)
        return;
    if (word_.text != "$")
        word_.var.clear();  // more than the one expansion
    if (target_) {
        if (heredoc_)
            heredocs_.emplace_back(word_.text, strip_tabs_);
        target_ = heredoc_ = false;
    } else {
        cmd_.push_back(std::move(word_));
    }
    word_ = ShWord{};
    in_word_ = false;
}

// Ends the current simple command (an operator, a newline or the end).
void ShellSplitter::command_end()
{
    word_end();
    if (!cmd_.empty())
        out_.push_back(std::move(cmd_));
    cmd_.clear();
}

// The ')' that closes the '(' at `open`, quotes and nesting respected; the
// end of the text when there is none.
std::size_t ShellSplitter::paren_end(std::size_t open) const
{
    std::size_t depth = 0;
    for (std::size_t i = open; i < s_.size(); ++i) {
        char c = s_[i];
        if (c == '\\') {
            ++i;
        } else if (c == '\'') {
            std::size_t q = s_.find('\'', i + 1);
            i = q == std::string_view::npos ? s_.size() : q;
        } else if (c == '"') {
            for (++i; i < s_.size() && s_[i] != '"'; ++i) {
                if (s_[i] == '\\')
                    ++i;
            }
        } else if (c == '(') {
            ++depth;
        } else if (c == ')' && --depth == 0) {
            return i;
        }
    }
    return s_.size();
}

// $(...), $((...)), ${...}, $NAME at `i`; returns the index after it.
std::size_t ShellSplitter::dollar(std::size_t i)
{
    const std::size_t n = s_.size();
    if (i + 1 < n && s_[i + 1] == '(') {
        std::size_t end = paren_end(i + 1);
        if (!(i + 2 < n && s_[i + 2] == '('))  // $((...)) is arithmetic
            on_subst_(s_.substr(i + 2, end - std::min(end, i + 2)));
        word_unknown("$()");
        return end + 1;
    }
    std::string_view name;
    std::size_t after = i + 1;
    if (i + 1 < n && s_[i + 1] == '{') {
        std::size_t close = s_.find('}', i + 2);
        after = close == std::string_view::npos ? n : close + 1;
        name = s_.substr(i + 2, after - 1 - std::min(after - 1, i + 2));
    } else {
        while (after < n && char_is_var(static_cast<unsigned char>(s_[after]), after == i + 1))
            ++after;
        name = s_.substr(i + 1, after - i - 1);
        if (name.empty()) {  // a '$' before anything but a name is itself
            word_.text += '$';
            in_word_ = true;
            return i + 1;
        }
    }
    const bool alone = word_.text.empty() && word_.plain;
    word_unknown("$");
    word_.var = alone && !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return char_is_var(static_cast<unsigned char>(c), false);
    }) ? std::string(name) : std::string();
    return after;
}

// `...` at `i`: its script (with \` \\ \$ unescaped) to on_subst.
std::size_t ShellSplitter::backquote(std::size_t i)
{
    std::string inner;
    std::size_t j = i + 1;
    for (; j < s_.size() && s_[j] != '`'; ++j) {
        if (s_[j] == '\\' && j + 1 < s_.size() &&
            std::string_view("`\\$").find(s_[j + 1]) != std::string_view::npos)
            ++j;
        inner += s_[j];
    }
    on_subst_(inner);
    word_unknown("``");
    return std::min(j + 1, s_.size());
}

// The inside of "...", from `i` (after the quote); returns the index after
// the closing quote.
std::size_t ShellSplitter::double_quoted(std::size_t i)
{
    in_word_ = true;
    while (i < s_.size() && s_[i] != '"') {
        char c = s_[i];
        if (c == '\\' && i + 1 < s_.size() &&
            std::string_view("$`\"\\\n").find(s_[i + 1]) != std::string_view::npos) {
            if (s_[i + 1] != '\n')
                word_.text += s_[i + 1];
            i += 2;
        } else if (c == '$') {
            i = dollar(i);
        } else if (c == '`') {
            i = backquote(i);
        } else {
            word_.text += c;
            ++i;
        }
    }
    return std::min(i + 1, s_.size());
}

// A redirection operator at `i` (< > <<- <<< <> <& >& >> >|); its target is
// the next word, not part of the command.
std::size_t ShellSplitter::redirect(std::size_t i)
{
    // A word of digits right before it is the descriptor number ("2>").
    if (in_word_ && word_.plain && !word_.text.empty() &&
        std::all_of(word_.text.begin(), word_.text.end(),
                    [](char c) { return char_is_digit(static_cast<unsigned char>(c)); })) {
        word_ = ShWord{};
        in_word_ = false;
    }
    word_end();
    std::string_view rest = s_.substr(i);
    target_ = true;
    if (rest.starts_with("<<<"))
        return i + 3;
    if (rest.starts_with("<<-") || rest.starts_with("<<")) {
        heredoc_ = true;
        strip_tabs_ = rest.starts_with("<<-");
        return i + (strip_tabs_ ? 3 : 2);
    }
    if (rest.size() > 1 && std::string_view("&>|").find(rest[1]) != std::string_view::npos)
        return i + 2;
    return i + 1;
}

// After a newline: skips the bodies of the here-documents named on the line.
std::size_t ShellSplitter::heredocs_skip(std::size_t i)
{
    for (const auto& [delim, strip] : heredocs_) {
        while (i < s_.size()) {
            std::size_t nl = s_.find('\n', i);
            std::size_t end = nl == std::string_view::npos ? s_.size() : nl;
            std::string_view line = s_.substr(i, end - i);
            if (strip)
                line.remove_prefix(std::min(line.find_first_not_of('\t'), line.size()));
            i = nl == std::string_view::npos ? s_.size() : nl + 1;
            if (line == delim)
                break;
        }
    }
    heredocs_.clear();
    return i;
}

// One pass over the script: the simple commands in order.
std::vector<ShCommand> ShellSplitter::split()
{
    const std::size_t n = s_.size();
    std::size_t i = 0;
    while (i < n) {
        const char c = s_[i];
        if (c == ' ' || c == '\t') {
            word_end();
            ++i;
        } else if (c == '\n') {
            command_end();
            i = heredocs_skip(i + 1);
        } else if (c == '#' && !in_word_) {
            std::size_t nl = s_.find('\n', i);
            i = nl == std::string_view::npos ? n : nl;
        } else if (c == '&' && i + 1 < n && s_[i + 1] == '>') {
            command_end();  // &> and &>> redirect; the command goes on
            target_ = true;
            i += (i + 2 < n && s_[i + 2] == '>') ? 3 : 2;
        } else if (c == ';' || c == '&' || c == '|' || c == '(' || c == ')') {
            command_end();
            ++i;
        } else if ((c == '<' || c == '>') && i + 1 < n && s_[i + 1] == '(') {
            std::size_t end = paren_end(i + 1);
            on_subst_(s_.substr(i + 2, end - std::min(end, i + 2)));
            word_unknown("<()");
            i = end + 1;
        } else if (c == '<' || c == '>') {
            i = redirect(i);
        } else if (c == '\\') {
            if (i + 1 < n && s_[i + 1] != '\n') {
                word_.text += s_[i + 1];
                in_word_ = true;
            }
            i += 2;
        } else if (c == '\'') {
            std::size_t q = s_.find('\'', i + 1);
            std::size_t end = q == std::string_view::npos ? n : q;
            word_.text += s_.substr(i + 1, end - i - 1);
            in_word_ = true;
            i = end + 1;
        } else if (c == '"') {
            i = double_quoted(i + 1);
        } else if (c == '$') {
            i = dollar(i);
        } else if (c == '`') {
            i = backquote(i);
        } else {
            word_.text += c;
            in_word_ = true;
            ++i;
        }
    }
    command_end();
    return std::move(out_);
}

// ------------------------------------------------------------ the linter

// Where commands are being linted.
struct Ctx {
    int depth = 0;
    bool binding = false;   // the commands of a key binding
    std::string hook;       // the commands of this hook
    std::string alias;      // the body of this command-alias
    bool no_alias = false;  // directly inside an alias expansion: no further expansion

    // The same place one level deeper.
    [[nodiscard]] Ctx deeper() const
    {
        Ctx c = *this;
        ++c.depth;
        return c;
    }
    // "key binding: ", "hook NAME: ", "command-alias NAME: " or "".
    [[nodiscard]] std::string prefix() const
    {
        if (!alias.empty())
            return "command-alias " + alias + ": ";
        if (!hook.empty())
            return "hook " + hook + ": ";
        return binding ? "key binding: " : "";
    }
};

// A command after its flags are read by its getopt template.
struct Call {
    std::string_view name;
    int line = 0;
    std::map<char, std::optional<std::string>> flags;  // present flags, with their values
    std::vector<const CfgArg*> args;                   // the arguments after the flags

    [[nodiscard]] bool has(char f) const { return flags.contains(f); }
    [[nodiscard]] const std::string* value(char f) const
    {
        auto it = flags.find(f);
        return it == flags.end() || !it->second ? nullptr : &*it->second;
    }
    // Argument `i` as a string, or null (absent, or a block).
    [[nodiscard]] const std::string* text(std::size_t i) const
    {
        return i < args.size() && !args[i]->is_block ? &args[i]->text : nullptr;
    }
};

// args_parse: flags until the first argument that is not "-x..." ("--" ends
// them too); a flag with ':' in the template takes the rest of its word or
// the next argument. An unknown flag is skipped (tmux would refuse the
// command: linting it anyway errs on the side of a finding).
Call call_read(const CfgCmd& cmd, std::string_view name, std::string_view getopt)
{
    Call c;
    c.name = name;
    c.line = cmd.line;
    std::size_t i = 1;
    while (i < cmd.args.size()) {
        const CfgArg& a = cmd.args[i];
        if (a.is_block || a.text.size() < 2 || a.text[0] != '-')
            break;
        ++i;
        if (a.text == "--")
            break;
        for (std::size_t k = 1; k < a.text.size(); ++k) {
            const char f = a.text[k];
            std::size_t at = getopt.find(f);
            if (f == ':' || at == std::string_view::npos)
                continue;
            if (at + 1 >= getopt.size() || getopt[at + 1] != ':') {
                c.flags[f] = std::nullopt;
                continue;
            }
            if (k + 1 < a.text.size())
                c.flags[f] = a.text.substr(k + 1);
            else if (i < cmd.args.size() && !cmd.args[i].is_block)
                c.flags[f] = cmd.args[i++].text;
            else
                c.flags[f] = std::nullopt;
            break;
        }
    }
    for (; i < cmd.args.size(); ++i)
        c.args.push_back(&cmd.args[i]);
    return c;
}

// Quotes `s` for sh so that it stays one word.
std::string shell_quote(std::string_view s)
{
    std::string out = "'";
    for (char ch : s) {
        if (ch == '\'')
            out += "'\\''";
        else
            out += ch;
    }
    return out + "'";
}

// Walks the commands of one file and collects findings and references.
class Linter {
public:
    explicit Linter(const LintEnv& env) : vars_(env)
    {
        for (const auto& [name, body] : kDefaultAliases)
            aliases_.emplace(std::string(name), std::string(body));
    }

    // Lints the whole file.
    void file_lint(std::string_view text);
    // The findings and references, sorted and without duplicates.
    LintReport report();

private:
    // Commands
    std::vector<CfgCmd> commands_parse(std::string_view text, const LineIndex* lines,
                                       int fixed_line, int depth);
    void commands_lint(const std::vector<CfgCmd>& cmds, const Ctx& ctx);
    void command_lint(const CfgCmd& cmd, const Ctx& ctx);
    void command_string_lint(std::string_view text, int line, const Ctx& ctx);
    void command_value_lint(const CfgArg& arg, int line, const Ctx& ctx);
    void command_argv_lint(const std::vector<const CfgArg*>& argv, int line, const Ctx& ctx);
    bool alias_expand(const CfgCmd& cmd, const Ctx& ctx);
    void call_lint(const Call& c, CmdKind kind, const Ctx& ctx);
    void bind_key_lint(const Call& c, const Ctx& ctx);
    void display_menu_lint(const Call& c, const Ctx& ctx);
    void source_file_lint(const Call& c);
    void switch_client_lint(const Call& c, const Ctx& ctx);
    void send_keys_lint(const Call& c, const Ctx& ctx);
    void server_access_lint(const Call& c, const Ctx& ctx);
    // Options
    void set_option_lint(const Call& c, const Ctx& ctx);
    void set_hook_lint(const Call& c, const Ctx& ctx);
    void option_value_lint(std::string_view option, const Call& c, const CfgArg* value,
                           bool indexed, const Ctx& ctx);
    void update_environment_lint(const Call& c, const std::string* value, bool indexed,
                                 const Ctx& ctx);
    void command_alias_define(const std::string& value, bool indexed, int line, const Ctx& ctx);
    // Shell commands and formats
    void shell_lint(std::string_view script, int line, const Ctx& ctx, const std::string& where);
    void shell_argv_lint(const std::vector<const CfgArg*>& argv, std::size_t from, int line,
                         const Ctx& ctx, const std::string& where);
    std::optional<std::string> word_value(const ShWord& w);
    void simple_command_lint(const ShCommand& words, int line, const Ctx& ctx,
                             const std::string& where);
    void shell_c_lint(const ShCommand& words, std::size_t from, int line, const Ctx& ctx,
                      const std::string& where);
    void tmux_argv_lint(const ShCommand& words, std::size_t from, int line, const Ctx& ctx,
                        const std::string& where);
    void formats_lint(std::string_view s, int line, const Ctx& ctx, const std::string& where);
    void call_formats_lint(const Call& c, const Ctx& ctx, std::size_t skip_from);
    void socket_words_scan(std::string_view value, int line);
    // Results
    void finding_add(int line, LintSeverity sev, std::string_view code, std::string message,
                     std::string_view fix);
    void privilege_found(int line, const Ctx& ctx, const std::string& where, std::string_view tool);
    void limit_hit(int line);
    void ref_add(LintRefKind kind, int line, std::string path, bool quiet = false);

    Vars vars_;
    Budget budget_;
    std::map<std::string, std::string, std::less<>> aliases_;
    std::vector<LintFinding> findings_;
    std::vector<LintRef> refs_;
};

// The file's commands, each with the line it starts on.
void Linter::file_lint(std::string_view text)
{
    LineIndex lines(text);
    commands_lint(commands_parse(text, &lines, 0, 0), Ctx{});
}

// Parses commands; limits hit while parsing become findings.
std::vector<CfgCmd> Linter::commands_parse(std::string_view text, const LineIndex* lines,
                                           int fixed_line, int depth)
{
    CfgLexer lex(text, vars_, budget_, lines == nullptr);
    CfgParser parser(lex, lines, fixed_line, vars_, depth);
    std::vector<CfgCmd> cmds = parser.parse();
    for (int line : parser.limited_lines())
        limit_hit(line);
    if (budget_.exhausted)
        limit_hit(parser.line_now());
    return cmds;
}

// Each command of a list, in order (aliases defined earlier apply later).
void Linter::commands_lint(const std::vector<CfgCmd>& cmds, const Ctx& ctx)
{
    for (const CfgCmd& cmd : cmds)
        command_lint(cmd, ctx);
}

// One command: alias expansion, name resolution, flags, then its rules.
void Linter::command_lint(const CfgCmd& cmd, const Ctx& ctx)
{
    if (cmd.args.empty())
        return;
    if (ctx.depth >= kLintMaxDepth) {
        limit_hit(cmd.line);
        return;
    }
    if (cmd.args[0].is_block) {  // not a command tmux runs; its blocks are linted anyway
        for (const CfgArg& a : cmd.args) {
            if (a.is_block)
                commands_lint(a.block, ctx.deeper());
        }
        return;
    }
    if (!ctx.no_alias && alias_expand(cmd, ctx))
        return;
    std::optional<std::string_view> name = command_resolve(cmd.args[0].text);
    if (!name)
        return;  // tmux refuses an unknown or ambiguous command
    Ctx inner = ctx;
    inner.no_alias = false;
    const CommandSpec* spec = command_spec(*name);
    if (spec == nullptr) {
        Call c = call_read(cmd, *name, "");
        call_formats_lint(c, inner, c.args.size());
        for (const CfgArg& a : cmd.args) {
            if (a.is_block)
                commands_lint(a.block, inner.deeper());
        }
        return;
    }
    call_lint(call_read(cmd, *name, spec->getopt), spec->kind, inner);
}

// The rules of each kind of command (contract clause 3).
void Linter::call_lint(const Call& c, CmdKind kind, const Ctx& ctx)
{
    const std::string name(c.name);
    switch (kind) {
    case CmdKind::run_shell:
        if (c.has('C') && !c.args.empty())
            command_value_lint(*c.args[0], c.line, ctx);
        else if (const std::string* s = c.text(0))
            shell_lint(*s, c.line, ctx, name);
        call_formats_lint(c, ctx, c.has('C') ? 0 : c.args.size());
        return;
    case CmdKind::if_shell:
        if (const std::string* s = c.text(0); s != nullptr && !c.has('F'))
            shell_lint(*s, c.line, ctx, name);
        for (std::size_t i = 1; i < c.args.size() && i < 3; ++i)
            command_value_lint(*c.args[i], c.line, ctx);
        call_formats_lint(c, ctx, 1);
        return;
    case CmdKind::bind_key: bind_key_lint(c, ctx); return;
    case CmdKind::set_option: set_option_lint(c, ctx); return;
    case CmdKind::set_hook: set_hook_lint(c, ctx); return;
    case CmdKind::source_file: source_file_lint(c); return;
    case CmdKind::shell_tail:
        shell_argv_lint(c.args, 0, c.line, ctx, name);
        call_formats_lint(c, ctx, c.args.size());
        return;
    case CmdKind::detach_client:
        if (const std::string* e = c.value('E'))
            shell_lint(*e, c.line, ctx, "detach-client -E");
        return;
    case CmdKind::command_arg:
        if (!c.args.empty())
            command_value_lint(*c.args[0], c.line, ctx);
        call_formats_lint(c, ctx, 0);
        return;
    case CmdKind::display_menu: display_menu_lint(c, ctx); return;
    case CmdKind::switch_client: switch_client_lint(c, ctx); return;
    case CmdKind::server_access: server_access_lint(c, ctx); return;
    case CmdKind::send_keys:
        send_keys_lint(c, ctx);
        if (c.has('F'))
            call_formats_lint(c, ctx, c.args.size());
        return;
    case CmdKind::literal_args:
        if (c.has('F'))
            call_formats_lint(c, ctx, c.args.size());
        return;
    }
}

// bind-key KEY: one argument is a block or a command string; more are one
// command line in argv form (cmd_parse_from_arguments).
void Linter::bind_key_lint(const Call& c, const Ctx& ctx)
{
    Ctx inner = ctx;
    inner.binding = true;
    if (c.args.size() == 2)
        command_value_lint(*c.args[1], c.line, inner);
    else if (c.args.size() > 2)
        command_argv_lint(std::vector<const CfgArg*>(c.args.begin() + 1, c.args.end()), c.line,
                          inner);
}

// display-menu: NAME KEY COMMAND triples; an empty NAME is a separator.
void Linter::display_menu_lint(const Call& c, const Ctx& ctx)
{
    std::size_t i = 0;
    while (i < c.args.size()) {
        const CfgArg& name = *c.args[i++];
        if (!name.is_block) {
            if (name.text.empty())
                continue;
            formats_lint(name.text, c.line, ctx, "display-menu");
        }
        i += 1;  // the key
        if (i < c.args.size())
            command_value_lint(*c.args[i++], c.line, ctx);
    }
    for (const auto& [flag, value] : c.flags) {
        if (value)
            formats_lint(*value, c.line, ctx, "display-menu");
    }
}

// source-file [-Fnqv] PATH...: absolute paths are references for the CLI; a
// relative path depends on where tmux was started (a finding); -n only parses.
void Linter::source_file_lint(const Call& c)
{
    if (c.has('n'))
        return;
    for (std::size_t i = 0; i < c.args.size(); ++i) {
        const std::string* path = c.text(i);
        if (path == nullptr || *path == "-" || path->empty())
            continue;
        if (c.has('F') && path->find("#{") != std::string::npos)
            continue;  // known only when tmux runs
        if ((*path)[0] == '/')
            ref_add(LintRefKind::source_file, c.line, *path, c.has('q'));
        else  // "~/x" here means quoted or no HOME: relative for tmux too
            finding_add(c.line, LintSeverity::medium, "source-file-relative",
                        "source-file " + excerpt(*path) +
                            " is relative: tmux reads it from whatever directory it was started in",
                        "use an absolute path or ~/...");
    }
}

// send-keys: with -X a copy-mode command, whose pipe variants run their
// argument as a shell command; otherwise keys typed into the pane, which the
// pane's shell runs as a command line (Enter, C-m and KPEnter end a line,
// Space and Tab are blanks, -l sends every argument as text).
void Linter::send_keys_lint(const Call& c, const Ctx& ctx)
{
    if (c.has('X')) {
        const std::string* mode_cmd = c.text(0);
        const std::string* script = c.text(1);
        if (mode_cmd != nullptr && script != nullptr &&
            (mode_cmd->starts_with("copy-pipe") || mode_cmd->starts_with("pipe")))
            shell_lint(*script, c.line, ctx, "send-keys -X " + excerpt(*mode_cmd));
        return;
    }
    std::string typed;
    for (std::size_t i = 0; i < c.args.size(); ++i) {
        const std::string* k = c.text(i);
        if (k == nullptr)
            continue;
        if (!c.has('l') && (*k == "Enter" || *k == "C-m" || *k == "KPEnter"))
            typed += '\n';
        else if (!c.has('l') && (*k == "Space" || *k == "Tab"))
            typed += ' ';
        else
            typed += *k;
    }
    if (!typed.empty())
        shell_lint(typed, c.line, ctx, "send-keys (typed into the pane)");
}

// switch-client -r toggles the target client's read-only flag. tmux 3.3a
// lets a read-only client run key bindings made only of read-only commands
// (switch-client is one), so a binding with it lets a read-only guest make
// itself writable; a hook runs it for whichever client fired the hook.
void Linter::switch_client_lint(const Call& c, const Ctx& ctx)
{
    if (!c.has('r') || (!ctx.binding && ctx.hook.empty()))
        return;
    finding_add(c.line, LintSeverity::high, "readonly-toggle",
                ctx.prefix() +
                    "switch-client -r toggles the client's read-only flag: a read-only guest "
                    "can make itself writable (tmux before 3.7)",
                "remove switch-client -r from key bindings and hooks");
}

// server-access -a/-w (and -r, which adds the user too) in a config gives
// users the socket; on tmux 3.3a read-only there is write (switch-client -r).
void Linter::server_access_lint(const Call& c, const Ctx& ctx)
{
    if (c.has('d') || c.has('l') || !(c.has('a') || c.has('w') || c.has('r')))
        return;
    std::string what = c.has('r') && !c.has('w')
                           ? "gives a user the server's socket read-only, which tmux 3.3a lets "
                             "the user turn into write (switch-client -r)"
                           : "gives a user write access to the whole server";
    finding_add(c.line, LintSeverity::medium, "server-access-grant",
                ctx.prefix() + "server-access in the config " + what,
                "remove it and let tmuxguard's policy and sync manage server-access");
}

// A command string (parsed now, as tmux parses it when it runs), its lines
// all the line of the command that holds it (clause 4).
void Linter::command_string_lint(std::string_view text, int line, const Ctx& ctx)
{
    if (ctx.depth + 1 >= kLintMaxDepth) {
        limit_hit(line);
        return;
    }
    Ctx inner = ctx.deeper();
    inner.no_alias = false;
    commands_lint(commands_parse(text, nullptr, line, inner.depth), inner);
}

// An argument that tmux treats as commands: a block or a string.
void Linter::command_value_lint(const CfgArg& arg, int line, const Ctx& ctx)
{
    if (arg.is_block)
        commands_lint(arg.block, ctx.deeper());
    else
        command_string_lint(arg.text, line, ctx);
}

// cmd_parse_from_arguments: an argument ending in ';' ends a command (one
// ending in "\;" keeps a literal ';').
void Linter::command_argv_lint(const std::vector<const CfgArg*>& argv, int line, const Ctx& ctx)
{
    std::vector<CfgCmd> cmds(1);
    cmds.back().line = line;
    for (const CfgArg* a : argv) {
        if (a->is_block) {
            cmds.back().args.push_back(*a);
            continue;
        }
        std::string s = a->text;
        bool end = false;
        if (!s.empty() && s.back() == ';') {
            s.pop_back();
            if (!s.empty() && s.back() == '\\')
                s.back() = ';';
            else
                end = true;
        }
        if (!end || !s.empty())
            cmds.back().args.push_back(CfgArg{false, std::move(s), {}});
        if (end) {
            cmds.emplace_back();
            cmds.back().line = line;
        }
    }
    commands_lint(cmds, ctx.deeper());
}

// cmd_parse_expand_alias: a command named by a command-alias entry becomes
// the alias's commands, the rest of its arguments appended to the last one.
bool Linter::alias_expand(const CfgCmd& cmd, const Ctx& ctx)
{
    auto it = aliases_.find(cmd.args[0].text);
    if (it == aliases_.end())
        return false;
    if (ctx.depth + 1 >= kLintMaxDepth) {
        limit_hit(cmd.line);
        return true;
    }
    std::vector<CfgCmd> cmds = commands_parse(it->second, nullptr, cmd.line, ctx.depth + 1);
    if (cmds.empty())
        return true;
    for (std::size_t i = 1; i < cmd.args.size(); ++i)
        cmds.back().args.push_back(cmd.args[i]);
    Ctx inner = ctx.deeper();
    inner.no_alias = true;
    commands_lint(cmds, inner);
    return true;
}

// set-option / set-window-option OPTION [VALUE].
void Linter::set_option_lint(const Call& c, const Ctx& ctx)
{
    const std::string* raw = c.text(0);
    if (raw == nullptr)
        return;
    const CfgArg* value = c.args.size() > 1 ? c.args[1] : nullptr;
    std::optional<std::pair<std::string, bool>> parsed = option_name_parse(*raw);
    if (!parsed)
        return;
    const auto& [name, indexed] = *parsed;
    std::optional<std::string_view> canonical;
    if (!name.empty() && name[0] != '@')
        canonical = option_resolve(name);
    option_value_lint(canonical ? *canonical : std::string_view(name), c, value, indexed, ctx);
}

// set-hook [-agpRuw] HOOK [COMMAND]: -R runs the hook now, -u removes it.
void Linter::set_hook_lint(const Call& c, const Ctx& ctx)
{
    const std::string* raw = c.text(0);
    if (raw == nullptr || c.args.size() < 2 || c.has('R') || c.has('u'))
        return;
    std::optional<std::pair<std::string, bool>> parsed = option_name_parse(*raw);
    if (!parsed)
        return;
    std::optional<std::string_view> canonical = option_resolve(parsed->first);
    Ctx inner = ctx;
    inner.hook = canonical ? std::string(*canonical) : excerpt(parsed->first);
    command_value_lint(*c.args[1], c.line, inner);
}

// The rules on option values; `option` is the resolved name (or the name as
// written for user and unknown options).
void Linter::option_value_lint(std::string_view option, const Call& c, const CfgArg* value,
                               bool indexed, const Ctx& ctx)
{
    const bool unset = c.has('u') || c.has('U');
    const std::string* text = value != nullptr && !value->is_block ? &value->text : nullptr;
    const std::string opt(option);
    if (option_is_hook(option)) {
        if (!unset && value != nullptr) {
            Ctx inner = ctx;
            inner.hook = opt;
            command_value_lint(*value, c.line, inner);
        }
        return;
    }
    if (option == "command-alias") {
        if (!unset && text != nullptr)
            command_alias_define(*text, indexed, c.line, ctx);
        return;
    }
    if (option == "update-environment")
        update_environment_lint(c, text, indexed, ctx);
    if (unset)
        return;
    if (option == "allow-rename" && flag_value_is_on(text))
        finding_add(c.line, LintSeverity::low, "allow-rename",
                    ctx.prefix() +
                        "allow-rename lets programs in a pane rename windows by escape sequence "
                        "(a spoofed name shown to every guest; tmux escapes control bytes)",
                    "set -g allow-rename off");
    if (option == "allow-passthrough" && (flag_value_is_on(text) || (text && *text == "all")))
        finding_add(c.line, LintSeverity::high, "allow-passthrough",
                    ctx.prefix() +
                        "allow-passthrough lets programs in a pane write raw escape sequences "
                        "to the terminal of every attached guest",
                    "set -g allow-passthrough off");
    if (option == "set-clipboard" && text != nullptr && *text == "on")
        finding_add(c.line, LintSeverity::medium, "set-clipboard",
                    ctx.prefix() +
                        "set-clipboard on lets programs in a pane set the clipboard of every "
                        "attached client (OSC 52)",
                    "set -s set-clipboard external");
    if (text == nullptr)
        return;
    if (option == "default-command" || option == "lock-command" || option == "copy-command" ||
        option == "editor")
        shell_lint(*text, c.line, ctx, opt);
    if (option == "default-shell" && list_has(kPrivilegeTools, path_base(*text)))
        privilege_found(c.line, ctx, opt, path_base(*text));
    formats_lint(*text, c.line, ctx, opt);
    socket_words_scan(*text, c.line);
}

// update-environment entries (fnmatch patterns) that match a credential
// variable; -gu restores the default, which copies SSH_AUTH_SOCK too.
void Linter::update_environment_lint(const Call& c, const std::string* value, bool indexed,
                                     const Ctx& ctx)
{
    const bool unset = c.has('u') || c.has('U');
    if (unset && !c.has('g'))
        return;
    std::vector<std::string> items;
    if (unset)
        items = {"DISPLAY",        "KRB5CCNAME", "SSH_ASKPASS", "SSH_AUTH_SOCK",
                 "SSH_AGENT_PID", "SSH_CONNECTION", "WINDOWID", "XAUTHORITY"};
    else if (value != nullptr)
        items = indexed ? std::vector<std::string>{*value} : list_split(*value, " ,");
    LintSeverity worst = LintSeverity::low;
    std::vector<std::string> names;
    auto add = [&](std::string n, LintSeverity s) {
        if (std::find(names.begin(), names.end(), n) == names.end())
            names.push_back(std::move(n));
        worst = std::max(worst, s);
    };
    for (std::size_t i = 0; i < items.size() && i < 256; ++i) {
        const std::string& item = items[i];
        for (const SecretVariable& v : kSecretVariables) {
            if (item.size() <= kMaxPattern && glob_match(item, v.name))
                add(std::string(v.name), v.severity);
        }
        for (std::string_view w : kCredentialWords) {
            if (item.find(w) != std::string::npos)
                add(excerpt(item), LintSeverity::high);
        }
    }
    if (names.empty())
        return;
    std::string list;
    for (std::size_t i = 0; i < names.size() && i < 6; ++i)
        list += (i == 0 ? "" : ", ") + names[i];
    if (names.size() > 6)
        list += ", ...";
    finding_add(c.line, worst, "update-environment-secret",
                ctx.prefix() + (unset ? "update-environment reset to its default, which copies "
                                      : "update-environment copies ") +
                    list + " from every attaching client into the session",
                "leave credentials out of update-environment (tmuxguard serve sets it to \"\")");
}

// command-alias entries NAME=COMMANDS: remembered for expansion where they
// are used, and their commands linted where they are defined.
void Linter::command_alias_define(const std::string& value, bool indexed, int line, const Ctx& ctx)
{
    std::vector<std::string> items =
        indexed ? std::vector<std::string>{value} : list_split(value, ",");
    for (std::size_t i = 0; i < items.size() && i < 256; ++i) {
        const std::string& item = items[i];
        std::size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
            continue;
        std::string name = item.substr(0, eq);
        std::string body = item.substr(eq + 1);
        Ctx inner = ctx;
        inner.alias = excerpt(name);
        inner.no_alias = true;
        command_string_lint(body, line, inner);
        if (body.size() <= kMaxAliasBody)
            aliases_[name] = std::move(body);
        else
            aliases_.erase(name);
    }
}

// A shell script: every simple command in it, every substitution too.
void Linter::shell_lint(std::string_view script, int line, const Ctx& ctx, const std::string& where)
{
    if (ctx.depth + 1 >= kLintMaxDepth || !budget_.take(script.size())) {
        limit_hit(line);
        return;
    }
    const Ctx inner = ctx.deeper();
    ShellSplitter splitter(script,
                           [&](std::string_view sub) { shell_lint(sub, line, inner, where); });
    for (const ShCommand& words : splitter.split())
        simple_command_lint(words, line, inner, where);
}

// A shell command given as separate arguments (new-window a b c): one
// argument is a script for sh -c; more are an argv, quoted word by word.
void Linter::shell_argv_lint(const std::vector<const CfgArg*>& argv, std::size_t from, int line,
                             const Ctx& ctx, const std::string& where)
{
    std::vector<std::string> words;
    for (std::size_t i = from; i < argv.size(); ++i) {
        if (!argv[i]->is_block)
            words.push_back(argv[i]->text);
    }
    if (words.size() == 1) {
        shell_lint(words[0], line, ctx, where);
        return;
    }
    std::string script;
    for (const std::string& w : words)
        script += (script.empty() ? "" : " ") + shell_quote(w);
    if (!script.empty())
        shell_lint(script, line, ctx, where);
}

// What a command word says when it runs: its text, or for a lone "$NAME" the
// first field of the variable as tmux's environment would give it (the
// caller's plus the file's assignments); nothing when it is unknown.
std::optional<std::string> Linter::word_value(const ShWord& w)
{
    if (w.plain)
        return w.text;
    if (w.var.empty())
        return std::nullopt;
    std::optional<std::string_view> v = vars_.get(w.var);
    if (!v)
        return std::nullopt;
    std::size_t start = v->find_first_not_of(" \t\n");
    if (start == std::string_view::npos)
        return std::nullopt;
    std::size_t end = v->find_first_of(" \t\n", start);
    return std::string(v->substr(start, end == std::string_view::npos ? end : end - start));
}

// One simple command: assignments, reserved words and wrappers (exec, env,
// nohup, timeout 5, ...) skipped, then the command name by its basename: a
// privilege tool is a finding; a shell's -c script, eval's words and tmux's
// own arguments are looked into. `command -v NAME` only looks NAME up.
void Linter::simple_command_lint(const ShCommand& words, int line, const Ctx& ctx,
                                 const std::string& where)
{
    std::size_t i = 0;
    bool after_wrapper = false;
    std::optional<std::string> name;
    for (; i < words.size(); ++i) {
        name = word_value(words[i]);
        if (!name)
            return;  // a computed command name
        const std::string& w = *name;
        if (word_is_assignment(w) && words[i].plain)
            continue;
        if (after_wrapper && (w.starts_with('-') || word_is_number(w))) {
            if (w == "-u" || w == "-C")  // env -u NAME, env -C DIR
                ++i;
            continue;
        }
        if (list_has(kReservedWords, w)) {
            after_wrapper = false;
            continue;
        }
        if (!list_has(kWrappers, path_base(w)))
            break;
        if (path_base(w) == "command" && i + 1 < words.size() &&
            (words[i + 1].text == "-v" || words[i + 1].text == "-V"))
            return;
        after_wrapper = true;
    }
    if (i >= words.size() || !name)
        return;
    std::string_view base = path_base(*name);
    if (list_has(kPrivilegeTools, base))
        privilege_found(line, ctx, where, base);
    else if (list_has(kShells, base))
        shell_c_lint(words, i + 1, line, ctx, where);
    else if (base == "eval") {
        std::string script;
        for (std::size_t k = i + 1; k < words.size(); ++k)
            script += (k == i + 1 ? "" : " ") + words[k].text;
        shell_lint(script, line, ctx, where);
    } else if (base == "tmux") {
        tmux_argv_lint(words, i + 1, line, ctx, where);
    }
}

// sh [options] -c SCRIPT: the first argument after the options is the
// script when any option cluster holds 'c' (-c, -lc, -ec ...).
void Linter::shell_c_lint(const ShCommand& words, std::size_t from, int line, const Ctx& ctx,
                          const std::string& where)
{
    bool c_seen = false;
    for (std::size_t i = from; i < words.size(); ++i) {
        const std::string& w = words[i].text;
        if (w == "--")
            continue;
        if (w.size() > 1 && (w[0] == '-' || w[0] == '+')) {
            if (w.starts_with("--"))
                continue;
            if (w == "-o" || w == "+o" || w == "-O" || w == "+O")
                ++i;  // takes an option name
            else if (w.find('c') != std::string::npos)
                c_seen = true;
            continue;
        }
        if (c_seen)
            shell_lint(w, line, ctx, where);
        return;
    }
}

// tmux [-2CDdlNquUvV] [-c SHELL-COMMAND] [-f FILE] [-L NAME] [-S SOCKET]
// [-T FEATURES] [COMMAND...]: -S is a reference, -c a script, the rest a
// tmux command line in argv form.
void Linter::tmux_argv_lint(const ShCommand& words, std::size_t from, int line, const Ctx& ctx,
                            const std::string& where)
{
    std::size_t i = from;
    while (i < words.size()) {
        const std::string& w = words[i].text;
        if (w == "--") {
            ++i;
            break;
        }
        if (w.size() < 2 || w[0] != '-')
            break;
        ++i;
        for (std::size_t k = 1; k < w.size(); ++k) {
            const char f = w[k];
            if (std::string_view("cfLST").find(f) == std::string_view::npos)
                continue;
            std::string value;
            bool plain = true;
            if (k + 1 < w.size()) {
                value = w.substr(k + 1);
            } else if (i < words.size()) {
                value = words[i].text;
                plain = words[i].plain;
                ++i;
            }
            if (f == 'S' && plain && value.starts_with('/'))
                ref_add(LintRefKind::socket, line, value);
            if (f == 'c')
                shell_lint(value, line, ctx, where);
            break;
        }
    }
    std::vector<CfgArg> args;
    for (; i < words.size(); ++i)
        args.push_back(CfgArg{false, words[i].text, {}});
    std::vector<const CfgArg*> argv;
    for (const CfgArg& a : args)
        argv.push_back(&a);
    if (!argv.empty())
        command_argv_lint(argv, line, ctx);
}

// #(...) jobs in a format (format.c: "##", "#,", "#}", "#:" are escapes;
// the job ends at the first ')' outside #{...}): each one is a shell command.
void Linter::formats_lint(std::string_view s, int line, const Ctx& ctx, const std::string& where)
{
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != '#')
            continue;
        const char nx = s[i + 1];
        if (nx == '(') {
            long brackets = 0;
            std::size_t j = i + 2;
            for (; j < s.size(); ++j) {
                if (s[j] == '#' && j + 1 < s.size() && s[j + 1] == '{')
                    ++brackets;
                if (s[j] == '#' && j + 1 < s.size() &&
                    std::string_view(",#{}:").find(s[j + 1]) != std::string_view::npos) {
                    ++j;
                    continue;
                }
                if (s[j] == '}')
                    --brackets;
                if (s[j] == ')' && brackets == 0)
                    break;
            }
            if (j >= s.size())
                return;  // no closing ')': tmux runs no job
            shell_lint(s.substr(i + 2, j - i - 2), line, ctx, "a #() job in " + where);
            i = j;
        } else if (std::string_view(",#}:").find(nx) != std::string_view::npos) {
            ++i;
        }
    }
}

// Every flag value, and the arguments before `skip_from`, as formats.
void Linter::call_formats_lint(const Call& c, const Ctx& ctx, std::size_t skip_from)
{
    const std::string where(c.name);
    for (const auto& [flag, value] : c.flags) {
        if (value)
            formats_lint(*value, c.line, ctx, where);
    }
    for (std::size_t i = 0; i < c.args.size() && i < skip_from; ++i) {
        if (!c.args[i]->is_block)
            formats_lint(c.args[i]->text, c.line, ctx, where);
    }
}

// "-S /path" or "-S/path" among an option value's words: a socket reference.
void Linter::socket_words_scan(std::string_view value, int line)
{
    if (value.find("-S") == std::string_view::npos || !budget_.take(value.size()))
        return;
    ShellSplitter splitter(value, [](std::string_view) {});
    for (const ShCommand& words : splitter.split()) {
        for (std::size_t i = 0; i < words.size(); ++i) {
            const ShWord& w = words[i];
            if (w.text == "-S" && i + 1 < words.size() && words[i + 1].plain &&
                words[i + 1].text.starts_with('/'))
                ref_add(LintRefKind::socket, line, words[i + 1].text);
            else if (w.plain && w.text.starts_with("-S/"))
                ref_add(LintRefKind::socket, line, w.text.substr(2));
        }
    }
}

// Records a finding; report() sorts them and keeps one per (line, code).
void Linter::finding_add(int line, LintSeverity sev, std::string_view code, std::string message,
                         std::string_view fix)
{
    findings_.push_back(
        LintFinding{line, sev, std::string(code), std::move(message), std::string(fix)});
}

// privileged-shell: `tool` runs as a command where `where` runs a shell.
void Linter::privilege_found(int line, const Ctx& ctx, const std::string& where,
                             std::string_view tool)
{
    finding_add(line, LintSeverity::high, "privileged-shell",
                ctx.prefix() + where + " runs " + std::string(tool) +
                    " (whoever can trigger it gets what " + std::string(tool) + " grants)",
                kFixPrivilege);
}

// lint-limit: something on `line` was too deep or too costly to follow.
void Linter::limit_hit(int line)
{
    finding_add(line, LintSeverity::medium, "lint-limit",
                "commands nested deeper than " + std::to_string(kLintMaxDepth) +
                    " levels or expanded beyond the linter's budget: not all of this was checked",
                "flatten the nesting so that it can be checked");
}

// A reference for the caller (capped: a file cannot make the list grow without end).
void Linter::ref_add(LintRefKind kind, int line, std::string path, bool quiet)
{
    if (refs_.size() < 4096)
        refs_.push_back(LintRef{kind, line, std::move(path), quiet});
}

// Sorted by line then code, one finding per (line, code): the most severe.
LintReport Linter::report()
{
    auto finding_order = [](const LintFinding& a, const LintFinding& b) {
        if (a.line != b.line)
            return a.line < b.line;
        if (a.code != b.code)
            return a.code < b.code;
        return a.severity > b.severity;
    };
    std::stable_sort(findings_.begin(), findings_.end(), finding_order);
    auto same = [](const LintFinding& a, const LintFinding& b) {
        return a.line == b.line && a.code == b.code;
    };
    findings_.erase(std::unique(findings_.begin(), findings_.end(), same), findings_.end());
    auto key = [](const LintRef& r) { return std::tie(r.line, r.kind, r.path); };
    auto ref_order = [&](const LintRef& a, const LintRef& b) { return key(a) < key(b); };
    auto ref_same = [&](const LintRef& a, const LintRef& b) { return key(a) == key(b); };
    std::stable_sort(refs_.begin(), refs_.end(), ref_order);
    refs_.erase(std::unique(refs_.begin(), refs_.end(), ref_same), refs_.end());
    return LintReport{std::move(findings_), std::move(refs_)};
}

}  // namespace

// The names JSON and the human output use.
std::string_view lint_severity_name(LintSeverity s)
{
    switch (s) {
    case LintSeverity::high: return "high";
    case LintSeverity::medium: return "medium";
    case LintSeverity::low: break;
    }
    return "low";
}

// Size check (clause 5), then one Linter per file: no state between calls.
Result<LintReport> tmux_lint(std::string_view text, const LintEnv& env)
{
    if (text.size() > kLintMaxBytes)
        return fail("lint-too-large", 0, {},
                    "larger than " + std::to_string(kLintMaxBytes >> 10U) + " KiB");
    Linter linter(env);
    linter.file_lint(text);
    return linter.report();
}

}  // namespace tg
