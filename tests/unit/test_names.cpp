// names.hpp: every validator against a table of accepted and refused values,
// and its length caps at the exact boundary.
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "tmuxguard/names.hpp"

namespace {

struct NameCase {
    std::string value;
    bool valid;
};

std::string s_with_nul()
{
    return std::string("ab\0c", 4);
}

TEST(Names, ShareNames)
{
    const NameCase cases[] = {
        {"ops", true},
        {"prod-deploy.1", true},
        {"A_b", true},
        {"9lives", true},
        {std::string(64, 'a'), true},
        {std::string(65, 'a'), false},
        {"", false},
        {".hidden", false},
        {"-dash", false},
        {"_under", false},
        {"a b", false},
        {"a/b", false},
        {"a:b", false},
        {"a\nb", false},
        {"caf\xc3\xa9", false},
        {"*", false},
        {s_with_nul(), false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(tg::name_is_valid_share(c.value), c.valid) << c.value;
}

TEST(Names, SessionNames)
{
    const NameCase cases[] = {
        {"main", true},   {"a-b_c", true},  {std::string(64, 'x'), true},
        {"a.b", false},   {"a:b", false},   {std::string(65, 'x'), false},
        {"", false},      {"-a", false},    {"_a", false},
        {"=a", false},    {"a*", false},    {"a\x1b", false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(tg::name_is_valid_session(c.value), c.valid) << c.value;
}

TEST(Names, DefaultSessionReplacesDots)
{
    EXPECT_EQ(tg::name_default_session("prod.web.1"), "prod_web_1");
    EXPECT_EQ(tg::name_default_session("ops"), "ops");
    EXPECT_TRUE(tg::name_is_valid_session(tg::name_default_session("a.b-c_d")));
}

TEST(Names, AccountNames)
{
    const NameCase cases[] = {
        {"alice", true},
        {"_apt", true},
        {"svc-prod", true},
        {"a.b", true},
        {"host$", true},
        {"9user", true},
        {std::string(32, 'u'), true},
        {std::string(32, 'u') + "$", true},
        {std::string(33, 'u'), false},
        {"", false},
        {"$", false},
        {"-rf", false},
        {".x", false},
        {"a$b", false},
        {"a$$", false},
        {"a b", false},
        {"al:ice", false},
        {"alice\n", false},
        {"ALICE", true},
    };
    for (const auto& c : cases)
        EXPECT_EQ(tg::name_is_valid_account(c.value), c.valid) << c.value;
}

TEST(Names, TermNames)
{
    const NameCase cases[] = {
        {"xterm-256color", true}, {"screen.xterm", true}, {"rxvt+x", true},
        {"", false},              {"-x", false},          {"x\x1b[0m", false},
        {"a b", false},           {"a/b", false},         {std::string(65, 't'), false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(tg::name_is_valid_term(c.value), c.valid) << c.value;
}

TEST(Names, LocaleNames)
{
    const NameCase cases[] = {
        {"C", true},           {"en_US.UTF-8", true}, {"de_DE@euro", true},
        {"sr_RS.UTF-8@latin", true}, {"C.UTF-8", true},
        {"", false},           {"a.b.c", false},      {"a@b@c", false},
        {"en US", false},      {"../../x", false},    {"a/b", false},
        {std::string(65, 'a'), false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(tg::name_is_valid_locale(c.value), c.valid) << c.value;
}

TEST(Names, CleanAbsolutePaths)
{
    const NameCase cases[] = {
        {"/", true},
        {"/run/tmuxguard", true},
        {"/usr/bin/tmux", true},
        {"/a/.hidden/b..c", true},
        {"", false},
        {"run/tmuxguard", false},
        {"/run//tmuxguard", false},
        {"/run/tmuxguard/", false},
        {"/run/./x", false},
        {"/run/../etc", false},
        {"/run/..", false},
        {"/run/.", false},
        {"/run/tmux guard", false},
        {"/run/tmux\tguard", false},
        {"/run/x\n", false},
        {"/run/\x7f", false},
        {"/" + std::string(PATH_MAX - 2, 'a'), true},
        {"/" + std::string(PATH_MAX - 1, 'a'), false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(tg::name_is_clean_abs_path(c.value), c.valid) << c.value.substr(0, 40);
}

// UTF-8 of every length, and the code points UTF-8 cannot carry.
TEST(Names, Utf8AppendEncodesEveryLengthAndRefusesSurrogates)
{
    struct Row {
        std::uint32_t cp;
        bool ok;
        std::string bytes;
    };
    for (const Row& r : std::vector<Row>{{0x41, true, "A"},
                                         {0x7f, true, "\x7f"},
                                         {0xe9, true, "\xc3\xa9"},
                                         {0x7ff, true, "\xdf\xbf"},
                                         {0x20ac, true, "\xe2\x82\xac"},
                                         {0xffff, true, "\xef\xbf\xbf"},
                                         {0x1f600, true, "\xf0\x9f\x98\x80"},
                                         {0x10ffff, true, "\xf4\x8f\xbf\xbf"},
                                         {0xd800, false, ""},
                                         {0xdfff, false, ""},
                                         {0x110000, false, ""}}) {
        std::string out = "x";
        EXPECT_EQ(tg::utf8_append(out, r.cp), r.ok) << std::hex << r.cp;
        EXPECT_EQ(out, "x" + r.bytes) << std::hex << r.cp;
    }
}

}  // namespace
