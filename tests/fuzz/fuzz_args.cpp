// Fuzz target: the wrapper's argument and name validation (attach_args.hpp,
// names.hpp): what any user controls on the command line and in the
// environment of a setgid program.
//
// Input: NUL-separated strings (like /proc/PID/cmdline), used as argv
// (argv[0] first, at most 20) and as the caller's environment.
//
// Properties:
//  A1 attach_args_parse agrees with a reference parser written from the
//     documented grammar `[-r] [-n] [-t SESSION] SHARE` (clusters such as
//     -rn and -tNAME, "--" ends options, each option once, one operand,
//     at most 16 entries and 4096 bytes); a refusal is reason "usage" with a
//     detail of printable ASCII only (contract 5);
//  A2 an accepted command line gives the same result when written back in
//     canonical form, and the tmux argv built from it is the one fixed form;
//  A3 every names.hpp predicate agrees with the regular language its
//     comment documents; the default session of a valid share is a valid
//     session; text_safe output is printable ASCII and decodes back to its
//     input;
//  A4 attach_env_build keeps PATH, HOME, SHELL, USER, LOGNAME from its
//     arguments and only the first TERM, LANG and LC_* value of the caller,
//     and only when valid.
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz.hpp"
#include "tmuxguard/attach_args.hpp"
#include "tmuxguard/names.hpp"

namespace {

bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// [first-set][rest-set]{0,max-1}, with alnum in both sets.
bool matches(std::string_view s, std::size_t max, std::string_view first, std::string_view rest)
{
    if (s.empty() || s.size() > max)
        return false;
    if (!alnum(s[0]) && first.find(s[0]) == std::string_view::npos)
        return false;
    for (std::size_t i = 1; i < s.size(); ++i)
        if (!alnum(s[i]) && rest.find(s[i]) == std::string_view::npos)
            return false;
    return true;
}

bool ref_share(std::string_view s) { return matches(s, 64, "", "._-"); }
bool ref_session(std::string_view s) { return matches(s, 64, "", "_-"); }
bool ref_term(std::string_view s) { return matches(s, 64, "", "._+-"); }
bool ref_account(std::string_view s)
{
    if (matches(s, 32, "_", "_.-"))
        return true;
    return s.size() >= 2 && s.back() == '$' && matches(s.substr(0, s.size() - 1), 32, "_", "_.-");
}
bool ref_locale(std::string_view s)
{
    if (!matches(s, 64, "_.@-", "_.@-"))
        return false;
    std::size_t dots = 0, ats = 0;
    for (char c : s) {
        dots += c == '.';
        ats += c == '@';
    }
    return dots <= 1 && ats <= 1;
}
bool ref_clean_abs_path(std::string_view s)
{
    if (s.empty() || s[0] != '/' || s.size() > PATH_MAX - 1)
        return false;
    for (char c : s) {
        auto b = static_cast<unsigned char>(c);
        if (b <= 0x20 || b == 0x7f)
            return false;
    }
    if (s == "/")
        return true;
    std::string_view rest = s.substr(1);
    for (;;) {
        std::size_t slash = rest.find('/');
        std::string_view comp = rest.substr(0, slash);
        if (comp.empty() || comp == "." || comp == "..")
            return false;
        if (slash == std::string_view::npos)
            return true;
        rest.remove_prefix(slash + 1);
    }
}

// Decodes text_safe's \xNN; nullopt on anything text_safe cannot produce.
std::optional<std::string> text_safe_decode(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (s.size() - i < 4 || s[i + 1] != 'x')
            return std::nullopt;
        auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
        int hi = hex(s[i + 2]);
        int lo = hex(s[i + 3]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 3;
    }
    return out;
}

struct RefArgs {
    bool ok = false;
    bool readonly = false;
    bool dry_run = false;
    std::string session;
    std::string share;
};

// The documented grammar, read literally (A1).
RefArgs reference_parse(const std::vector<std::string>& argv)
{
    RefArgs r;
    if (argv.empty() || argv.size() > 16)
        return r;
    std::size_t bytes = 0;
    for (std::size_t i = 1; i < argv.size(); ++i)
        bytes += argv[i].size();
    if (bytes > 4096)
        return r;
    std::size_t i = 1;
    bool t_seen = false;
    while (i < argv.size()) {
        const std::string& a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.size() < 2 || a[0] != '-')
            break;
        if (a[1] == '-')
            return r;
        ++i;
        for (std::size_t j = 1; j < a.size(); ++j) {
            char c = a[j];
            if (c == 'r' || c == 'n') {
                bool& flag = c == 'r' ? r.readonly : r.dry_run;
                if (flag)
                    return r;
                flag = true;
            } else if (c == 't') {
                if (t_seen)
                    return r;
                t_seen = true;
                std::string value = a.substr(j + 1);
                if (value.empty() && i < argv.size())
                    value = argv[i++];
                if (!ref_session(value))
                    return r;
                r.session = value;
                break;
            } else {
                return r;
            }
        }
    }
    if (argv.size() - i != 1 || !ref_share(argv[i]))
        return r;
    r.share = argv[i];
    r.ok = true;
    return r;
}

tg::Result<tg::AttachArgs> parse(const std::vector<std::string>& argv)
{
    std::vector<const char*> v;
    for (const std::string& a : argv)
        v.push_back(a.c_str());
    v.push_back(nullptr);
    return tg::attach_args_parse(static_cast<int>(argv.size()), v.data());
}

void args_check(const std::vector<std::string>& argv, std::string_view in)
{
    auto got = parse(argv);
    RefArgs want = reference_parse(argv);
    FUZZ_CHECK(got.has_value() == want.ok, in);
    if (!got) {
        FUZZ_CHECK(got.error().reason == "usage", in);
        for (char c : got.error().detail)
            FUZZ_CHECK(c >= 0x20 && c <= 0x7e, in);
        return;
    }
    FUZZ_CHECK(got->share == want.share && got->session == want.session &&
                   got->readonly == want.readonly && got->dry_run == want.dry_run,
               in);
    FUZZ_CHECK(tg::name_is_valid_share(got->share), in);
    FUZZ_CHECK(got->session.empty() || tg::name_is_valid_session(got->session), in);

    // A2: canonical form, and the one tmux command line.
    std::vector<std::string> canon{"tmuxguard-attach"};
    if (got->readonly)
        canon.emplace_back("-r");
    if (got->dry_run)
        canon.emplace_back("-n");
    if (!got->session.empty()) {
        canon.emplace_back("-t");
        canon.push_back(got->session);
    }
    canon.push_back(got->share);
    auto again = parse(canon);
    FUZZ_CHECK(again && again->share == got->share && again->session == got->session &&
                   again->readonly == got->readonly && again->dry_run == got->dry_run,
               in);
    const std::string session = got->session.empty() ? tg::name_default_session(got->share) : got->session;
    std::vector<std::string> tmux = tg::attach_tmux_argv("/usr/bin/tmux", 7, session, got->readonly);
    std::vector<std::string> fixed{"/usr/bin/tmux", "-N", "-S", "/proc/self/fd/7", "attach-session",
                                   "-E", "-t", "=" + session};
    if (got->readonly)
        fixed.emplace_back("-r");
    FUZZ_CHECK(tmux == fixed, in);
}

// A3 for one string.
void names_check(std::string_view s, std::string_view in)
{
    FUZZ_CHECK(tg::name_is_valid_share(s) == ref_share(s), in);
    FUZZ_CHECK(tg::name_is_valid_session(s) == ref_session(s), in);
    FUZZ_CHECK(tg::name_is_valid_account(s) == ref_account(s), in);
    FUZZ_CHECK(tg::name_is_valid_term(s) == ref_term(s), in);
    FUZZ_CHECK(tg::name_is_valid_locale(s) == ref_locale(s), in);
    FUZZ_CHECK(tg::name_is_clean_abs_path(s) == ref_clean_abs_path(s), in);
    if (ref_share(s))
        FUZZ_CHECK(tg::name_is_valid_session(tg::name_default_session(s)), in);
    const std::string safe = tg::text_safe(s);
    for (char c : safe)
        FUZZ_CHECK(c >= 0x20 && c <= 0x7e, in);
    auto back = text_safe_decode(safe);
    FUZZ_CHECK(back && *back == s, in);
}

// A4.
void env_check(const std::vector<std::string>& entries, std::string_view in)
{
    std::vector<const char*> env;
    for (const std::string& e : entries)
        env.push_back(e.c_str());
    env.push_back(nullptr);
    const std::vector<std::string> out = tg::attach_env_build(env.data(), "alice", "/home/alice", "/bin/bash");
    const std::vector<std::string> head{"PATH=/usr/bin:/bin", "HOME=/home/alice", "SHELL=/bin/bash",
                                        "USER=alice", "LOGNAME=alice"};
    FUZZ_CHECK(out.size() >= head.size(), in);
    FUZZ_CHECK(std::vector<std::string>(out.begin(), out.begin() + 5) == head, in);
    auto first_value = [&](const std::string& name) -> std::optional<std::string> {
        for (const std::string& e : entries)
            if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=')
                return e.substr(name.size() + 1);
        return std::nullopt;
    };
    std::set<std::string> kept;
    for (std::size_t i = head.size(); i < out.size(); ++i) {
        std::size_t eq = out[i].find('=');
        FUZZ_CHECK(eq != std::string::npos, in);
        std::string name = out[i].substr(0, eq);
        FUZZ_CHECK(kept.insert(name).second, in);
        auto v = first_value(name);
        FUZZ_CHECK(v && *v == out[i].substr(eq + 1), in);
    }
    for (const char* name : {"TERM", "LANG", "LC_ALL", "LC_CTYPE", "LC_COLLATE", "LC_MESSAGES",
                             "LC_MONETARY", "LC_NUMERIC", "LC_TIME"}) {
        auto v = first_value(name);
        bool valid = v && (std::string_view(name) == "TERM" ? ref_term(*v) : ref_locale(*v));
        FUZZ_CHECK(kept.count(name) == (valid ? 1u : 0u), in);
    }
    FUZZ_CHECK(kept.size() + head.size() == out.size(), in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> fields;
    for (std::string_view f : tgfuzz::fields_split(in, '\0', in.size() + 1)) {
        if (fields.size() == 20)
            break;
        fields.emplace_back(f);  // C strings: no field holds a NUL
    }
    args_check(fields, in);
    for (const std::string& f : fields)
        names_check(f, in);
    env_check(fields, in);
    return 0;
}
