// The wrapper's command line, environment and tmux argv (attach_args.hpp).
//
// Contract for attach_args_parse():
//  1. never getopt(): it permutes argv and reads POSIXLY_CORRECT from the
//     caller's environment;
//  2. options only before the operand; "--" ends them; each at most once;
//  3. anything unknown is an error, including tmux's own -d -x -c -S -L -f -E;
//  4. every value is checked against names.hpp before it is kept;
//  5. a usage detail never echoes a byte that could reach a terminal raw.
#include "tmuxguard/attach_args.hpp"

#include <cstring>
#include <optional>

#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"

namespace tg {
namespace {

// No valid command line has more than 7 entries (argv[0] -r -n -t S -- SHARE);
// the caps refuse absurd vectors before any parsing.
constexpr int kMaxArgCount = 16;
constexpr std::size_t kMaxArgBytes = 4096;
constexpr std::size_t kMaxOptionShown = 32;

// The LC_* variables kept, in the order they are written.
constexpr const char* kLocaleNames[] = {"LC_ALL",      "LC_CTYPE",   "LC_COLLATE", "LC_MESSAGES",
                                        "LC_MONETARY", "LC_NUMERIC", "LC_TIME"};

struct ArgsParser {
    int argc = 0;
    const char* const* argv = nullptr;
    int next = 1;
    bool session_seen = false;
    AttachArgs out;
};

std::unexpected<Error> args_usage(std::string detail)
{
    return fail("usage", 0, {}, std::move(detail));
}

// "unknown option X" with X as typed when it is short printable ASCII;
// otherwise without it, so no control byte reaches the user's terminal.
std::string args_unknown_option(std::string_view opt)
{
    if (opt.size() > kMaxOptionShown)
        return "unknown option";
    for (char c : opt) {
        auto b = static_cast<unsigned char>(c);
        if (b < 0x21 || b > 0x7e)
            return "unknown option";
    }
    return "unknown option " + std::string(opt);
}

// The vector's shape: at least argv[0], no NULL entry, bounded count and size.
Result<void> args_vector_check(int argc, const char* const* argv)
{
    if (argc < 1 || argv == nullptr)
        return args_usage("empty argument vector");
    if (argc > kMaxArgCount)
        return args_usage("too many arguments");
    std::size_t total = 0;
    for (int i = 1; i < argc; ++i) {
        if (argv[i] == nullptr)
            return args_usage("malformed argument vector");
        total += ::strnlen(argv[i], kMaxArgBytes + 1);
        if (total > kMaxArgBytes)
            return args_usage("arguments too long");
    }
    return {};
}

Result<void> args_flag_set(bool& flag, char name)
{
    if (flag)
        return args_usage(std::string("option -") + name + " given twice");
    flag = true;
    return {};
}

// -t SESSION: the value attached ("-tfoo") or the next argument.
Result<void> args_session_set(ArgsParser& p, std::string_view attached)
{
    if (p.session_seen)
        return args_usage("option -t given twice");
    p.session_seen = true;
    std::string_view value = attached;
    if (value.empty() && p.next < p.argc)
        value = p.argv[p.next++];
    if (value.empty())
        return args_usage("option -t needs a session name");
    if (!name_is_valid_session(value))
        return args_usage("invalid session name");
    p.out.session = std::string(value);
    return {};
}

// One option argument, possibly a cluster such as "-rn" or "-rtfoo".
Result<void> args_cluster_parse(ArgsParser& p, std::string_view arg)
{
    for (std::size_t j = 1; j < arg.size(); ++j) {
        Result<void> ok;
        switch (arg[j]) {
        case 'r':
            ok = args_flag_set(p.out.readonly, 'r');
            break;
        case 'n':
            ok = args_flag_set(p.out.dry_run, 'n');
            break;
        case 't':
            return args_session_set(p, arg.substr(j + 1));
        default:
            return args_usage(args_unknown_option(std::string{'-', arg[j]}));
        }
        if (!ok)
            return ok;
    }
    return {};
}

// Options up to the first operand, "-" or "--" (which is consumed).
Result<void> args_options_parse(ArgsParser& p)
{
    while (p.next < p.argc) {
        std::string_view arg = p.argv[p.next];
        if (arg == "--") {
            ++p.next;
            return {};
        }
        if (arg.size() < 2 || arg[0] != '-')
            return {};
        if (arg[1] == '-')
            return args_usage(args_unknown_option(arg));
        ++p.next;
        if (auto ok = args_cluster_parse(p, arg); !ok)
            return ok;
    }
    return {};
}

// Exactly one operand, a valid share name.
Result<void> args_operand_parse(ArgsParser& p)
{
    int left = p.argc - p.next;
    if (left == 0)
        return args_usage("missing share name");
    if (left > 1)
        return args_usage("too many arguments");
    std::string_view share = p.argv[p.next];
    if (!name_is_valid_share(share))
        return args_usage("invalid share name");
    p.out.share = std::string(share);
    return {};
}

// The value of the first NAME= entry of a NULL-terminated environment.
std::optional<std::string_view> env_first_value(const char* const* env, std::string_view name)
{
    for (; env != nullptr && *env != nullptr; ++env) {
        const char* entry = *env;
        if (std::strncmp(entry, name.data(), name.size()) == 0 && entry[name.size()] == '=')
            return std::string_view(entry + name.size() + 1);
    }
    return std::nullopt;
}

// Appends NAME=value when the caller's first NAME passes `valid`.
void env_copy_valid(std::vector<std::string>& out, const char* const* old_env,
                    std::string_view name, bool (*valid)(std::string_view))
{
    auto value = env_first_value(old_env, name);
    if (value && valid(*value))
        out.push_back(std::string(name) + "=" + std::string(*value));
}

}  // namespace

// Parses `[-r] [-n] [-t SESSION] SHARE`; any deviation is reason "usage".
Result<AttachArgs> attach_args_parse(int argc, const char* const* argv)
{
    if (auto ok = args_vector_check(argc, argv); !ok)
        return std::unexpected(ok.error());
    ArgsParser p;
    p.argc = argc;
    p.argv = argv;
    if (auto ok = args_options_parse(p); !ok)
        return std::unexpected(ok.error());
    if (auto ok = args_operand_parse(p); !ok)
        return std::unexpected(ok.error());
    return p.out;
}

// Builds the environment from nothing. `user`, `home` and `shell` come from
// the compiled policy (root-written); only TERM, LANG and LC_* are taken from
// the caller, and only when valid.
std::vector<std::string> attach_env_build(const char* const* old_env, std::string_view user,
                                          std::string_view home, std::string_view shell)
{
    std::vector<std::string> env;
    env.emplace_back("PATH=/usr/bin:/bin");
    env.push_back("HOME=" + std::string(home));
    env.push_back("SHELL=" + std::string(shell));
    env.push_back("USER=" + std::string(user));
    env.push_back("LOGNAME=" + std::string(user));
    env_copy_valid(env, old_env, "TERM", name_is_valid_term);
    env_copy_valid(env, old_env, "LANG", name_is_valid_locale);
    for (const char* name : kLocaleNames)
        env_copy_valid(env, old_env, name, name_is_valid_locale);
    return env;
}

// The one tmux command line the wrapper ever runs.
std::vector<std::string> attach_tmux_argv(const std::string& tmux, int socket_fd,
                                          const std::string& session, bool readonly)
{
    std::vector<std::string> argv{tmux,           "-N", "-S", fd_proc_path(socket_fd),
                                  "attach-session", "-E", "-t", "=" + session};
    if (readonly)
        argv.emplace_back("-r");
    return argv;
}

}  // namespace tg
