// The wrapper's argv grammar, rebuilt environment and tmux command line.
// Test names carry the clause of attach_args.cpp's contract they prove:
//   Clause1: no getopt (no permutation);  Clause2: options before the operand,
//   "--", each at most once;  Clause3: unknown options refused;
//   Clause4: values checked;  Clause5: no raw byte echoed in a usage detail.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tmuxguard/attach_args.hpp"
#include "tmuxguard/names.hpp"

namespace {

// Parses `args` as if they followed argv[0] = "tmuxguard-attach".
tg::Result<tg::AttachArgs> parse(const std::vector<std::string>& args)
{
    std::vector<const char*> argv{"tmuxguard-attach"};
    for (const auto& a : args)
        argv.push_back(a.c_str());
    argv.push_back(nullptr);
    return tg::attach_args_parse(static_cast<int>(argv.size() - 1), argv.data());
}

struct Accepted {
    std::vector<std::string> args;
    bool readonly;
    bool dry_run;
    const char* session;
    const char* share;
};

TEST(AttachArgsParse, Clause2_AcceptedCommandLines)
{
    const std::string longest(64, 'a');
    const Accepted table[] = {
        {{"build"}, false, false, "", "build"},
        {{"-r", "build"}, true, false, "", "build"},
        {{"-n", "build"}, false, true, "", "build"},
        {{"-rn", "build"}, true, true, "", "build"},
        {{"-nr", "build"}, true, true, "", "build"},
        {{"-r", "-n", "build"}, true, true, "", "build"},
        {{"-t", "main", "build"}, false, false, "main", "build"},
        {{"-tmain", "build"}, false, false, "main", "build"},
        {{"-rtmain", "build"}, true, false, "main", "build"},
        {{"-rt", "main", "build"}, true, false, "main", "build"},
        {{"-n", "-t", "deploy_2-x", "-r", "svc-prod"}, true, true, "deploy_2-x", "svc-prod"},
        {{"-tr", "build"}, false, false, "r", "build"},  // "r" is the session here
        {{"--", "build"}, false, false, "", "build"},
        {{"-r", "--", "build"}, true, false, "", "build"},
        {{"a.b_c-d"}, false, false, "", "a.b_c-d"},
        {{longest}, false, false, "", longest.c_str()},
        {{"-t", longest, "x"}, false, false, longest.c_str(), "x"},
    };
    for (const auto& c : table) {
        SCOPED_TRACE(::testing::PrintToString(c.args));
        auto got = parse(c.args);
        ASSERT_TRUE(got) << got.error().message();
        EXPECT_EQ(got->readonly, c.readonly);
        EXPECT_EQ(got->dry_run, c.dry_run);
        EXPECT_EQ(got->session, c.session);
        EXPECT_EQ(got->share, c.share);
    }
}

struct Refused {
    std::vector<std::string> args;
    const char* detail;
};

TEST(AttachArgsParse, Clause3_RefusedCommandLinesWithExactDetail)
{
    const Refused table[] = {
        // tmux's own attach options and anything else unknown.
        {{"-d", "build"}, "unknown option -d"},
        {{"-x", "build"}, "unknown option -x"},
        {{"-c", "/tmp", "build"}, "unknown option -c"},
        {{"-S", "/tmp/sock", "build"}, "unknown option -S"},
        {{"-L", "default", "build"}, "unknown option -L"},
        {{"-f", "/tmp/conf", "build"}, "unknown option -f"},
        {{"-E", "build"}, "unknown option -E"},
        {{"-rd", "build"}, "unknown option -d"},
        {{"--bogus", "build"}, "unknown option --bogus"},
        {{"--rn", "build"}, "unknown option --rn"},
        {{"---", "build"}, "unknown option ---"},
        // Options given twice.
        {{"-r", "-r", "build"}, "option -r given twice"},
        {{"-rr", "build"}, "option -r given twice"},
        {{"-n", "-rn", "build"}, "option -n given twice"},
        {{"-t", "a", "-t", "b", "build"}, "option -t given twice"},
        {{"-ta", "-tb", "build"}, "option -t given twice"},
        // -t without a usable value.
        {{"-t"}, "option -t needs a session name"},
        {{"-r", "-t"}, "option -t needs a session name"},
        {{"-t", "", "build"}, "option -t needs a session name"},
        {{"-t", "=foo", "build"}, "invalid session name"},
        {{"-t", "a:b", "build"}, "invalid session name"},
        {{"-t", "a.b", "build"}, "invalid session name"},
        {{"-t", "a*", "build"}, "invalid session name"},
        {{"-t", "-r", "build"}, "invalid session name"},
        {{"-t", std::string(65, 's'), "build"}, "invalid session name"},
        // Operands.
        {{}, "missing share name"},
        {{"-r"}, "missing share name"},
        {{"-t", "main"}, "missing share name"},
        {{"--"}, "missing share name"},
        {{"build", "other"}, "too many arguments"},
        {{"-r", "a", "b"}, "too many arguments"},
        {{"build", "-r"}, "too many arguments"},  // no permutation (Clause 1)
        {{"--", "build", "--"}, "too many arguments"},
        {{"a/b"}, "invalid share name"},
        {{".."}, "invalid share name"},
        {{"."}, "invalid share name"},
        {{"../etc"}, "invalid share name"},
        {{"build\n"}, "invalid share name"},
        {{"bu ild"}, "invalid share name"},
        {{std::string(65, 'a')}, "invalid share name"},
        {{""}, "invalid share name"},
        {{"-"}, "invalid share name"},
        {{".hidden"}, "invalid share name"},
        {{"--", "-r"}, "invalid share name"},
        {{"caf\xc3\xa9"}, "invalid share name"},
    };
    for (const auto& c : table) {
        SCOPED_TRACE(::testing::PrintToString(c.args));
        auto got = parse(c.args);
        ASSERT_FALSE(got);
        EXPECT_EQ(got.error().reason, "usage");
        EXPECT_EQ(got.error().detail, c.detail);
        EXPECT_EQ(got.error().err, 0);
    }
}

// Clause 1: nothing in the environment changes the grammar (getopt would
// read POSIXLY_CORRECT and permute "build -r").
TEST(AttachArgsParse, Clause1_EnvironmentDoesNotChangeTheGrammar)
{
    ASSERT_EQ(::setenv("POSIXLY_CORRECT", "1", 1), 0);
    auto strict = parse({"build", "-r"});
    ASSERT_EQ(::unsetenv("POSIXLY_CORRECT"), 0);
    auto plain = parse({"build", "-r"});
    ASSERT_FALSE(strict);
    ASSERT_FALSE(plain);
    EXPECT_EQ(strict.error().detail, "too many arguments");
    EXPECT_EQ(plain.error().detail, "too many arguments");
}

// Clause 5: an option holding control or non-ASCII bytes is refused without
// echoing it (the detail is printed on the caller's terminal).
TEST(AttachArgsParse, Clause5_UnprintableOptionIsNotEchoed)
{
    const std::vector<std::string> options = {
        "-\x1b", "--\x1b[2J", "-\xc3\xa9", "-\x7f", "--a b", "--" + std::string(40, 'x'),
        "-r\x07"};
    for (const auto& opt : options) {
        auto got = parse({opt, "build"});
        ASSERT_FALSE(got);
        EXPECT_EQ(got.error().detail, "unknown option") << ::testing::PrintToString(opt);
    }
}

TEST(AttachArgsParse, Clause4_VectorShapeAndSizeCaps)
{
    auto empty = tg::attach_args_parse(0, nullptr);
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().reason, "usage");
    EXPECT_EQ(empty.error().detail, "empty argument vector");
    const char* only_null[] = {nullptr};
    auto zero = tg::attach_args_parse(0, only_null);
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().detail, "empty argument vector");

    const char* holed[] = {"tmuxguard-attach", "-r", nullptr, "build", nullptr};
    auto hole = tg::attach_args_parse(4, holed);
    ASSERT_FALSE(hole);
    EXPECT_EQ(hole.error().detail, "malformed argument vector");

    auto huge = parse({"-r", std::string(5000, 'a')});
    ASSERT_FALSE(huge);
    EXPECT_EQ(huge.error().detail, "arguments too long");
    auto many_small = parse({std::string(2100, 'a'), std::string(2100, 'b')});
    ASSERT_FALSE(many_small);
    EXPECT_EQ(many_small.error().detail, "arguments too long");

    std::vector<std::string> many(20, "-r");
    many.push_back("build");
    auto count = parse(many);
    ASSERT_FALSE(count);
    EXPECT_EQ(count.error().detail, "too many arguments");
}

// Random argument vectors (grammar tokens mixed with random bytes): the result
// is either valid names, or "usage" with one of the known printable details.
TEST(AttachArgsParse, Clause5_RandomVectorsGiveValidNamesOrKnownDetails)
{
    const std::vector<std::string> known = {
        "unknown option",      "option -r given twice", "option -n given twice",
        "option -t given twice", "option -t needs a session name", "invalid session name",
        "missing share name",  "too many arguments",    "invalid share name"};
    const std::vector<std::string> tokens = {"-r", "-n", "-t", "--", "-rn", "-tx", "build",
                                             "main", "-", "-d", "a/b", "=s", "-rt", ""};
    std::mt19937 rng(4242);  // fixed seed: a failure reproduces
    for (int n = 0; n < 5000; ++n) {
        std::vector<std::string> args(rng() % 6);
        for (auto& a : args) {
            if (rng() % 3 != 0) {
                a = tokens[rng() % tokens.size()];
                continue;
            }
            for (std::size_t len = rng() % 8; len > 0; --len)
                a += static_cast<char>(rng() % 256);
        }
        SCOPED_TRACE(::testing::PrintToString(args));
        auto got = parse(args);
        if (got) {
            EXPECT_TRUE(tg::name_is_valid_share(got->share));
            EXPECT_TRUE(got->session.empty() || tg::name_is_valid_session(got->session));
            continue;
        }
        EXPECT_EQ(got.error().reason, "usage");
        const std::string& d = got.error().detail;
        bool is_known = false;
        for (const auto& k : known)
            is_known = is_known || d == k || (k == "unknown option" && d.starts_with(k + " -"));
        EXPECT_TRUE(is_known) << d;
        for (char c : d)
            EXPECT_TRUE(c >= 0x20 && c < 0x7f) << ::testing::PrintToString(d);
    }
}

// ---------------------------------------------------------------------------
// The environment, built from nothing.

std::vector<std::string> env_build(std::vector<std::string> old)
{
    std::vector<const char*> env;
    for (const auto& e : old)
        env.push_back(e.c_str());
    env.push_back(nullptr);
    return tg::attach_env_build(env.data(), "alice", "/home/alice", "/bin/bash");
}

const std::vector<std::string> kBase = {"PATH=/usr/bin:/bin", "HOME=/home/alice",
                                        "SHELL=/bin/bash", "USER=alice", "LOGNAME=alice"};

std::vector<std::string> base_plus(const std::vector<std::string>& extra)
{
    std::vector<std::string> out = kBase;
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
}

TEST(AttachEnvBuild, OnlyTheAllowlistSurvivesInFixedOrder)
{
    auto env = env_build({
        "LD_PRELOAD=/tmp/evil.so", "LD_LIBRARY_PATH=/tmp", "TMUX=/tmp/tmux-0/default,1,0",
        "TMUX_TMPDIR=/tmp", "GCONV_PATH=/tmp/gconv", "TZ=:/tmp/tz", "SSH_AUTH_SOCK=/tmp/agent",
        "LC_TIME=de_DE.UTF-8", "PATH=/tmp/bin", "HOME=/tmp/fakehome", "SHELL=/tmp/sh",
        "USER=root", "LOGNAME=root", "TERM=xterm-256color", "LANG=en_US.UTF-8", "LC_ALL=C",
        "LC_FOO=bar", "LOCPATH=/tmp", "DISPLAY=:0", "KRB5CCNAME=FILE:/tmp/k", "BASH_ENV=/tmp/x",
        "ENV=/tmp/x", "IFS=x", "LANGUAGE=de", "TERMINAL=foo", "LC_ALLX=C", "TERM", "POSIXLY_CORRECT=1",
    });
    EXPECT_EQ(env, base_plus({"TERM=xterm-256color", "LANG=en_US.UTF-8", "LC_ALL=C",
                              "LC_TIME=de_DE.UTF-8"}));
}

TEST(AttachEnvBuild, InvalidValuesAreDropped)
{
    auto env = env_build({"TERM=xterm\x1b]0;owned\x07", "LANG=../../tmp/x", "LC_CTYPE=",
                          "LC_COLLATE=en_US.UTF-8.x", "LC_MESSAGES=a@b@c",
                          "LC_NUMERIC=" + std::string(65, 'a'), "LC_MONETARY=C.UTF-8"});
    EXPECT_EQ(env, base_plus({"LC_MONETARY=C.UTF-8"}));
}

TEST(AttachEnvBuild, FirstOccurrenceDecides)
{
    EXPECT_EQ(env_build({"TERM=screen", "TERM=xterm", "LANG=C", "LANG=fr_FR.UTF-8"}),
              base_plus({"TERM=screen", "LANG=C"}));
    // An invalid first TERM is not rescued by a later valid one.
    EXPECT_EQ(env_build({"TERM=bad\x1b", "TERM=xterm"}), kBase);
}

TEST(AttachEnvBuild, EveryLocaleVariableInListOrder)
{
    auto env = env_build({"LC_TIME=C", "LC_NUMERIC=C", "LC_MONETARY=C", "LC_MESSAGES=C",
                          "LC_COLLATE=C", "LC_CTYPE=C.UTF-8", "LC_ALL=POSIX", "LANG=C"});
    EXPECT_EQ(env, base_plus({"LANG=C", "LC_ALL=POSIX", "LC_CTYPE=C.UTF-8", "LC_COLLATE=C",
                              "LC_MESSAGES=C", "LC_MONETARY=C", "LC_NUMERIC=C", "LC_TIME=C"}));
}

TEST(AttachEnvBuild, NoOldEnvironmentGivesTheBase)
{
    EXPECT_EQ(tg::attach_env_build(nullptr, "alice", "/home/alice", "/bin/bash"), kBase);
    EXPECT_EQ(env_build({}), kBase);
}

// ---------------------------------------------------------------------------
// The one tmux command line.

TEST(AttachTmuxArgv, FixedFormWithExactSessionAndDescriptor)
{
    using V = std::vector<std::string>;
    EXPECT_EQ(tg::attach_tmux_argv("/usr/bin/tmux", 5, "main", false),
              (V{"/usr/bin/tmux", "-N", "-S", "/proc/self/fd/5", "attach-session", "-E", "-t",
                 "=main"}));
    EXPECT_EQ(tg::attach_tmux_argv("/usr/bin/tmux", 17, "svc-prod", true),
              (V{"/usr/bin/tmux", "-N", "-S", "/proc/self/fd/17", "attach-session", "-E", "-t",
                 "=svc-prod", "-r"}));
}

}  // namespace
