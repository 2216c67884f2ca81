// policy.hpp: the language as an admin writes it. Every directive, every
// error message with its exact FILE:LINE text, the hours/days/until syntax at
// its edges, the whole-policy checks, and policy_load() over a real
// root-owned tree (trusted paths, drop-in order).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tmuxguard/paths.hpp"
#include "tmuxguard/policy.hpp"
#include "support.hpp"

namespace {

// gtest only (no gmock in the unit binaries): a prefix check with a useful message.
::testing::AssertionResult StartsWith(const std::string& text, const std::string& prefix)
{
    if (text.starts_with(prefix))
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "'" << text << "' does not start with '" << prefix << "'";
}

constexpr const char* kFile = tgtest::kPolicyFile;

// Local time is UTC in this binary, so "until" epochs are predictable.
const auto* const kUtc = ::testing::AddGlobalTestEnvironment(new tgtest::UtcEnvironment);

tg::Policy parse(const std::string& text, const char* file = kFile)
{
    tg::Policy p = tg::policy_defaults();
    tg::policy_parse_text(text, file, p);
    return p;
}

TEST(PolicyDefaults, ComeFromPathsHpp)
{
    tg::Policy p = tg::policy_defaults();
    EXPECT_EQ(p.settings.log, tg::paths::default_log);
    EXPECT_EQ(p.settings.tmux, tg::paths::default_tmux);
    EXPECT_EQ(p.settings.runtime_dir, tg::paths::default_runtime_dir);
    EXPECT_TRUE(p.settings.syslog);
    EXPECT_TRUE(p.shares.empty());
    EXPECT_TRUE(p.rules.empty());
    EXPECT_TRUE(p.valid());
}

TEST(PolicyParse, EveryDirectiveWithCommentsTabsAndBlankLines)
{
    tg::Policy p = parse(
        "# tmuxguard policy\n"
        "\n"
        "set log /var/log/x.log\n"
        "set syslog off\n"
        "set tmux /opt/tmux/bin/tmux\n"
        "set runtime-dir /run/tg\n"
        "share ops owner alice\n"
        "share web.1 owner svc-web socket /srv/tmux/web.sock   # explicit socket\n"
        "\t permit\tview  :devs on ops hours 09:00-17:00 days mon-fri until 2030-01-01T00:00\n"
        "permit interact bob on *\n"
        "   \t  \n"
        "deny * on web.1 #no options\n"
        "permit view carol on ops until 2025-06-01T12:30 days sat-sun\n");
    ASSERT_TRUE(p.valid()) << p.errors.front();
    EXPECT_EQ(p.settings.log, "/var/log/x.log");
    EXPECT_FALSE(p.settings.syslog);
    EXPECT_EQ(p.settings.tmux, "/opt/tmux/bin/tmux");
    EXPECT_EQ(p.settings.runtime_dir, "/run/tg");
    EXPECT_EQ(p.files, std::vector<std::string>{kFile});

    ASSERT_EQ(p.shares.size(), 2u);
    EXPECT_EQ(p.shares[0].name, "ops");
    EXPECT_EQ(p.shares[0].owner, "alice");
    EXPECT_EQ(p.shares[0].socket, "");
    EXPECT_EQ(p.shares[0].line, 7);
    EXPECT_EQ(p.shares[1].name, "web.1");
    EXPECT_EQ(p.shares[1].owner, "svc-web");
    EXPECT_EQ(p.shares[1].socket, "/srv/tmux/web.sock");
    EXPECT_EQ(p.shares[1].file, kFile);

    ASSERT_EQ(p.rules.size(), 4u);
    const tg::Rule& r0 = p.rules[0];
    EXPECT_EQ(r0.kind, tg::RuleKind::permit);
    EXPECT_EQ(r0.mode, tg::Mode::view);
    EXPECT_EQ(r0.who_kind, tg::WhoKind::group);
    EXPECT_EQ(r0.who, "devs");
    EXPECT_EQ(r0.share, "ops");
    EXPECT_EQ(r0.when.minute_from, 9 * 60);
    EXPECT_EQ(r0.when.minute_to, 17 * 60);
    EXPECT_EQ(r0.when.days, 0b0111110);
    EXPECT_EQ(r0.when.until_text, "2030-01-01T00:00");
    EXPECT_EQ(r0.line, 9);

    EXPECT_EQ(p.rules[1].mode, tg::Mode::interact);
    EXPECT_EQ(p.rules[1].who_kind, tg::WhoKind::user);
    EXPECT_EQ(p.rules[1].who, "bob");
    EXPECT_EQ(p.rules[1].share, "*");
    EXPECT_EQ(p.rules[1].when.minute_from, -1);
    EXPECT_EQ(p.rules[1].when.days, 0);
    EXPECT_EQ(p.rules[1].when.until_text, "");

    EXPECT_EQ(p.rules[2].kind, tg::RuleKind::deny);
    EXPECT_EQ(p.rules[2].mode, tg::Mode::none);
    EXPECT_EQ(p.rules[2].who_kind, tg::WhoKind::any);
    EXPECT_EQ(p.rules[2].who, "");
    EXPECT_EQ(p.rules[2].share, "web.1");
    EXPECT_EQ(p.rules[2].line, 12);

    // options in any order
    EXPECT_EQ(p.rules[3].when.until_text, "2025-06-01T12:30");
    EXPECT_EQ(p.rules[3].when.days, 0b1000001);
}

TEST(PolicyParse, LastLineWithoutNewlineAndLaterSettingsWin)
{
    tg::Policy p = parse("set log /a\nset log /b\nset syslog off\nset syslog on");
    ASSERT_TRUE(p.valid());
    EXPECT_EQ(p.settings.log, "/b");
    EXPECT_TRUE(p.settings.syslog);
}

TEST(PolicyParse, CommentOnlyStartsAtTokenStart)
{
    tg::Policy p = parse("share ops#1 owner alice\n");
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_EQ(p.errors[0], std::string(kFile) + ":1: share name 'ops#1' is invalid");
}

struct ErrorCase {
    std::string line;
    std::string message;  // without "FILE:1: "
};

TEST(PolicyParse, EveryErrorMessage)
{
    const std::string on = "permit view alice on x ";
    const ErrorCase cases[] = {
        // directives and keywords
        {"permitt view alice on x", "unknown directive 'permitt'"},
        {"Permit view alice on x", "unknown directive 'Permit'"},
        {"allow alice", "unknown directive 'allow'"},
        // set
        {"set", "set needs a setting and a value"},
        {"set foo bar", "unknown setting 'foo'"},
        {"set Log /x", "unknown setting 'Log'"},
        {"set syslog yes", "set syslog takes on or off"},
        {"set syslog On", "set syslog takes on or off"},
        {"set syslog", "set syslog takes on or off"},
        {"set syslog on off", "set syslog takes on or off"},
        {"set log", "set log takes one path"},
        {"set tmux /usr/bin/tmux extra", "set tmux takes one path"},
        {"set log var/log/x", "log path must be absolute and clean"},
        {"set tmux /usr/bin/../bin/tmux", "tmux path must be absolute and clean"},
        {"set runtime-dir /run/tg/", "runtime-dir path must be absolute and clean"},
        {"set runtime-dir /run//tg", "runtime-dir path must be absolute and clean"},
        // share
        {"share", "share needs a name"},
        {"share a.b/c owner alice", "share name 'a.b/c' is invalid"},
        {"share .x owner alice", "share name '.x' is invalid"},
        {"share x", "share needs 'owner USER'"},
        {"share x owners alice", "share needs 'owner USER'"},
        {"share x owner", "share needs 'owner USER'"},
        {"share x owner -bob", "user name '-bob' is invalid"},
        {"share x owner alice sock /a", "unexpected 'sock' after share owner"},
        {"share x owner alice socket", "socket takes one path"},
        {"share x owner alice socket /a /b", "socket takes one path"},
        {"share x owner alice socket rel/p", "socket path must be absolute and clean"},
        {"share x owner alice socket /a/../b", "socket path must be absolute and clean"},
        // permit
        {"permit", "permit needs view or interact"},
        {"permit write alice on x", "permit mode 'write' is not view or interact"},
        {"permit View alice on x", "permit mode 'View' is not view or interact"},
        {"permit view", "permit needs a user, :group or *"},
        {"permit view alice", "permit needs 'on SHARE'"},
        {"permit view alice x", "permit needs 'on SHARE'"},
        {"permit view alice on", "permit needs 'on SHARE'"},
        {"permit view alice at x", "permit needs 'on SHARE'"},
        {"permit view al/ice on x", "user name 'al/ice' is invalid"},
        {"permit view :op$s on x", "group name 'op$s' is invalid"},
        {"permit view : on x", "group name '' is invalid"},
        {"permit view ** on x", "user name '**' is invalid"},
        {"permit view alice on x/y", "share name 'x/y' is invalid"},
        {"permit view alice on x* ", "share name 'x*' is invalid"},
        {on + "hours 25:00-26:00", "hours '25:00-26:00' is not HH:MM-HH:MM"},
        {on + "hours 9:00-17:00", "hours '9:00-17:00' is not HH:MM-HH:MM"},
        {on + "hours 24:00-06:00", "hours '24:00-06:00' is not HH:MM-HH:MM"},
        {on + "hours 09:00-09:00", "hours '09:00-09:00' is an empty window"},
        {on + "hours 00:00-00:00", "hours '00:00-00:00' is an empty window"},
        {on + "days Mon", "days 'Mon' is not a day list such as mon-fri or mon,wed"},
        {on + "days mon,,fri", "days 'mon,,fri' is not a day list such as mon-fri or mon,wed"},
        {on + "until 2025-02-30T10:00", "until '2025-02-30T10:00' is not a valid date and time"},
        {on + "until 2025-01-01 10:00", "until '2025-01-01' is not YYYY-MM-DDTHH:MM"},
        {on + "until 2025-01-01T10:00:00", "until '2025-01-01T10:00:00' is not YYYY-MM-DDTHH:MM"},
        {on + "hours 09:00-17:00 hours 10:00-11:00", "option 'hours' given twice"},
        {on + "days mon-fri hours 09:00-10:00 days sat", "option 'days' given twice"},
        {on + "until 2030-01-01T00:00 until 2031-01-01T00:00", "option 'until' given twice"},
        {on + "hours", "option 'hours' needs a value"},
        {on + "days mon until", "option 'until' needs a value"},
        {on + "weekdays mon", "unknown option 'weekdays'"},
        {on + "Hours 09:00-10:00", "unknown option 'Hours'"},
        // deny
        {"deny", "deny needs a user, :group or *"},
        {"deny alice", "deny needs 'on SHARE'"},
        {"deny alice on", "deny needs 'on SHARE'"},
        {"deny :g$x on x", "group name 'g$x' is invalid"},
        {"deny alice on x hours 09:00-17:00", "deny takes no options (found 'hours')"},
        {"deny alice on x until 2030-01-01T00:00", "deny takes no options (found 'until')"},
        {"deny alice on x extra", "deny takes no options (found 'extra')"},
        // bytes
        {std::string(4097, '#'), "line too long"},
        {"share x owner alice " + std::string(4080, ' ') + "x", "line too long"},
        {"permit view alice on x\r", "control character in line"},
        {"# comment \x1b[2J", "control character in line"},
        {"share x\x7f owner alice", "control character in line"},
        {std::string("share x owner alice\0", 20), "control character in line"},
        {"share x owner alice\v", "control character in line"},
        // echoed text: escaped and cut
        {"unknown\xff\x80", "unknown directive 'unknown\\xff\\x80'"},
        {"permit view alice on " + std::string(70, 'a'),
         "share name '" + std::string(64, 'a') + "...' is invalid"},
        {"share " + std::string(65, 's') + " owner alice",
         "share name '" + std::string(64, 's') + "...' is invalid"},
    };
    for (const auto& c : cases) {
        tg::Policy p = parse(c.line + "\n");
        ASSERT_EQ(p.errors.size(), 1u) << c.line.substr(0, 80);
        EXPECT_EQ(p.errors[0], std::string(kFile) + ":1: " + c.message) << c.line.substr(0, 80);
        EXPECT_TRUE(p.rules.empty());
        EXPECT_TRUE(p.shares.empty());
    }
}

TEST(PolicyParse, NoErrorMessageCarriesAControlByte)
{
    std::string high;
    for (int b = 0x80; b < 0x100; ++b)
        high += static_cast<char>(b);
    tg::Policy p = parse("x" + high + "\npermit view " + high + " on x\nshare \x1b[31m owner a\n",
                         "/etc/tg/bad\x1b]name.conf");
    ASSERT_EQ(p.errors.size(), 3u);
    for (const std::string& e : p.errors) {
        for (char c : e) {
            auto b = static_cast<unsigned char>(c);
            EXPECT_TRUE(b >= 0x20 && b < 0x7f) << e;
        }
    }
    std::string echoed = "x";  // 64 bytes echoed: 'x' and 0x80..0xbe, then the cut mark
    for (int b = 0x80; b <= 0xbe; ++b) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", b);
        echoed += hex;
    }
    EXPECT_EQ(p.errors[0],
              "/etc/tg/bad\\x1b]name.conf:1: unknown directive '" + echoed + "...'");
    EXPECT_EQ(p.errors[2], "/etc/tg/bad\\x1b]name.conf:3: control character in line");
}

TEST(PolicyParse, LineLimitIsExactly4096Bytes)
{
    EXPECT_TRUE(parse(std::string(4096, '#') + "\n").valid());
    EXPECT_TRUE(parse("share ops owner alice" + std::string(4096 - 21, ' ')).valid());
}

TEST(PolicyParse, ErrorsKeepLineNumbersAndLaterLinesStillParse)
{
    tg::Policy p = parse(
        "share ops owner alice\n"
        "bogus\n"
        "\n"
        "permit view bob on ops\n"
        "permit view bob on ops hours 1-2\n");
    ASSERT_EQ(p.errors.size(), 2u);
    EXPECT_EQ(p.errors[0], std::string(kFile) + ":2: unknown directive 'bogus'");
    EXPECT_EQ(p.errors[1], std::string(kFile) + ":5: hours '1-2' is not HH:MM-HH:MM");
    EXPECT_EQ(p.rules.size(), 1u);
    EXPECT_FALSE(p.valid());
}

TEST(PolicyParse, FilesAreListedOnceInOrder)
{
    tg::Policy p = tg::policy_defaults();
    tg::policy_parse_text("", "/a.conf", p);
    tg::policy_parse_text("", "/b.conf", p);
    tg::policy_parse_text("", "/a.conf", p);
    EXPECT_EQ(p.files, (std::vector<std::string>{"/a.conf", "/b.conf"}));
}

struct HoursCase {
    std::string text;
    bool ok;
    int from;
    int to;
};

TEST(PolicySyntax, Hours)
{
    const HoursCase cases[] = {
        {"09:00-17:00", true, 540, 1020},
        {"22:00-06:00", true, 1320, 360},
        {"00:00-24:00", true, 0, 1440},
        {"23:59-00:00", true, 1439, 0},
        {"00:00-00:01", true, 0, 1},
        {"12:34-23:59", true, 754, 1439},
        {"24:00-06:00", false, 0, 0},
        {"09:00-09:00", false, 0, 0},
        {"9:00-17:00", false, 0, 0},
        {"09:00-17:0", false, 0, 0},
        {"09:60-10:00", false, 0, 0},
        {"09:00-24:01", false, 0, 0},
        {"09:00-25:00", false, 0, 0},
        {"09:00 17:00", false, 0, 0},
        {"09:00-17:00x", false, 0, 0},
        {"09:00_17:00", false, 0, 0},
        {"0900-1700", false, 0, 0},
        {"+9:00-10:00", false, 0, 0},
        {"-", false, 0, 0},
        {"", false, 0, 0},
    };
    for (const auto& c : cases) {
        int from = -7;
        int to = -7;
        EXPECT_EQ(tg::policy_parse_hours(c.text, from, to), c.ok) << c.text;
        EXPECT_EQ(from, c.ok ? c.from : -7) << c.text;
        EXPECT_EQ(to, c.ok ? c.to : -7) << c.text;
    }
}

struct DaysCase {
    std::string text;
    bool ok;
    std::uint8_t mask;
};

TEST(PolicySyntax, Days)
{
    const DaysCase cases[] = {
        {"sun", true, 0b0000001},
        {"sat", true, 0b1000000},
        {"mon-fri", true, 0b0111110},
        {"sat-sun", true, 0b1000001},
        {"fri-mon", true, 0b1100011},
        {"sun-sat", true, 0b1111111},
        {"mon-mon", true, 0b0000010},
        {"tue-mon", true, 0b1111111},
        {"mon,wed,fri", true, 0b0101010},
        {"mon,mon", true, 0b0000010},
        {"sat,mon-tue", true, 0b1000110},
        {"", false, 0},
        {",", false, 0},
        {"mon,", false, 0},
        {",mon", false, 0},
        {"mon--fri", false, 0},
        {"mon-", false, 0},
        {"-fri", false, 0},
        {"Mon", false, 0},
        {"monday", false, 0},
        {"mon fri", false, 0},
        {"mon-tue-wed", false, 0},
        {"mon;tue", false, 0},
        {"1-5", false, 0},
    };
    for (const auto& c : cases) {
        std::uint8_t mask = 0xff;
        EXPECT_EQ(tg::policy_parse_days(c.text, mask), c.ok) << c.text;
        EXPECT_EQ(mask, c.ok ? c.mask : 0xff) << c.text;
    }
}

struct TimeCase {
    std::string text;
    bool ok;
    std::int64_t epoch;
};

TEST(PolicySyntax, UntilIsStrictLocalTime)
{
    const TimeCase cases[] = {
        {"2025-06-01T12:30", true, 1748781000},
        {"2030-01-01T00:00", true, 1893456000},
        {"2024-02-29T00:00", true, 1709164800},
        {"2000-02-29T23:59", true, 951868740},
        {"1970-01-01T00:00", true, 0},
        {"2023-02-29T00:00", false, 0},
        {"2100-02-29T00:00", false, 0},
        {"2025-04-31T00:00", false, 0},
        {"2025-13-01T00:00", false, 0},
        {"2025-00-10T00:00", false, 0},
        {"2025-01-00T00:00", false, 0},
        {"2025-01-01T24:00", false, 0},
        {"2025-01-01T23:60", false, 0},
        {"1969-12-31T23:59", false, 0},
        {"2025-6-01T12:30", false, 0},
        {"2025-06-01 12:30", false, 0},
        {"2025-06-01t12:30", false, 0},
        {"2025-06-01T12:30:00", false, 0},
        {"2025-06-01T12:3", false, 0},
        {"+025-06-01T12:30", false, 0},
        {"", false, 0},
    };
    for (const auto& c : cases) {
        std::int64_t epoch = 42;
        EXPECT_EQ(tg::policy_parse_local_time(c.text, epoch), c.ok) << c.text;
        EXPECT_EQ(epoch, c.ok ? c.epoch : 42) << c.text;
    }
}

TEST(PolicyWhole, DuplicateShareNamesTheFirstDefinition)
{
    tg::Policy p = tg::policy_defaults();
    tg::policy_parse_text("share x owner alice\n", "/etc/tg/policy.conf", p);
    tg::policy_parse_text("\n\nshare x owner bob\n", "/etc/tg/policy.d/10-b.conf", p);
    tg::policy_check_whole(p);
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_EQ(p.errors[0],
              "/etc/tg/policy.d/10-b.conf:3: duplicate share 'x' "
              "(first defined at /etc/tg/policy.conf:1)");
}

TEST(PolicyWhole, TwoSharesOnOneSocket)
{
    tg::Policy p = parse(
        "share x owner alice socket /srv/s\n"
        "share y owner bob socket /srv/s\n"
        "share z owner bob socket /srv/t\n");
    tg::policy_check_whole(p);
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_EQ(p.errors[0], std::string(kFile) + ":2: share 'y' uses the socket of share 'x'");
}

TEST(PolicyWhole, RuleNamesUndefinedShare)
{
    tg::Policy p = parse(
        "permit view alice on later\n"
        "deny bob on nope\n"
        "permit interact :ops on *\n"
        "share later owner carol\n");
    tg::policy_check_whole(p);
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_EQ(p.errors[0], std::string(kFile) + ":2: rule names undefined share 'nope'");
}

TEST(PolicyQuote, CutsAndEscapes)
{
    EXPECT_EQ(tg::policy_quote("abc"), "'abc'");
    EXPECT_EQ(tg::policy_quote("a\nb\x1b"), "'a\\x0ab\\x1b'");
    EXPECT_EQ(tg::policy_quote(std::string(64, 'z')), "'" + std::string(64, 'z') + "'");
    EXPECT_EQ(tg::policy_quote(std::string(65, 'z')), "'" + std::string(64, 'z') + "...'");
}

TEST(ModeName, Names)
{
    EXPECT_EQ(tg::mode_name(tg::Mode::none), "none");
    EXPECT_EQ(tg::mode_name(tg::Mode::view), "view");
    EXPECT_EQ(tg::mode_name(tg::Mode::interact), "interact");
}

// policy_load() over a real tree: a root-owned 0755 directory under
// /var/lib, so the trusted-path checks pass for what the test writes.
class PolicyLoad : public tgtest::RootTree {
protected:
    PolicyLoad() : RootTree("trusted paths are root-owned") {}
    void SetUp() override
    {
        RootTree::SetUp();
        if (HasFatalFailure())
            return;
        conf_ = at("policy.conf");
        dropin_ = at("policy.d");
    }

    void write(const std::string& path, const std::string& text, mode_t mode = 0644)
    {
        std::ofstream(path) << text;
        ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    }

    void make_dropin(mode_t mode = 0755)
    {
        ASSERT_EQ(::mkdir(dropin_.c_str(), 0755), 0);
        ASSERT_EQ(::chmod(dropin_.c_str(), mode), 0);
    }

    std::string conf_;
    std::string dropin_;
};

TEST_F(PolicyLoad, ReadsConfThenDropInsInLexicalOrder)
{
    write(conf_, "share ops owner alice\npermit view a on ops\n");
    make_dropin();
    write(dropin_ + "/20-b.conf", "permit view b on ops\n");
    write(dropin_ + "/10-a.conf", "permit view c on ops\nset syslog off\n");
    write(dropin_ + "/Z-upper.conf", "permit view d on ops\n");
    write(dropin_ + "/README", "this is not policy\n");
    write(dropin_ + "/30-c.conf.bak", "this is not policy\n");
    write(dropin_ + "/.hidden.conf", "this is not policy\n");
    ASSERT_EQ(::mkdir((dropin_ + "/sub").c_str(), 0755), 0);

    tg::Policy p = tg::policy_load(conf_, dropin_);
    ASSERT_TRUE(p.valid()) << p.errors.front();
    EXPECT_EQ(p.files, (std::vector<std::string>{conf_, dropin_ + "/10-a.conf",
                                                 dropin_ + "/20-b.conf",
                                                 dropin_ + "/Z-upper.conf"}));
    ASSERT_EQ(p.rules.size(), 4u);
    EXPECT_EQ(p.rules[0].who, "a");
    EXPECT_EQ(p.rules[1].who, "c");
    EXPECT_EQ(p.rules[1].file, dropin_ + "/10-a.conf");
    EXPECT_EQ(p.rules[2].who, "b");
    EXPECT_EQ(p.rules[3].who, "d");
    EXPECT_FALSE(p.settings.syslog);
}

TEST_F(PolicyLoad, MissingDropInDirectoryIsFine)
{
    write(conf_, "share ops owner alice\n");
    tg::Policy p = tg::policy_load(conf_, dropin_);
    EXPECT_TRUE(p.valid());
    EXPECT_EQ(p.files, std::vector<std::string>{conf_});
}

TEST_F(PolicyLoad, MissingPolicyConfIsAnError)
{
    make_dropin();
    tg::Policy p = tg::policy_load(conf_, dropin_);
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_TRUE(StartsWith(p.errors[0], conf_ + ":0: cannot read policy: path-missing"));
}

TEST_F(PolicyLoad, GroupWritableFileIsRefusedWithItsReason)
{
    write(conf_, "share ops owner alice\n");
    make_dropin();
    write(dropin_ + "/10-a.conf", "permit interact mallory on ops\n", 0664);
    tg::Policy p = tg::policy_load(conf_, dropin_);
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_TRUE(StartsWith(p.errors[0], dropin_ + "/10-a.conf:0: cannot read policy: file-unsafe"));
    EXPECT_TRUE(p.rules.empty());
}

TEST_F(PolicyLoad, WritableDropInDirectoryIsRefused)
{
    write(conf_, "share ops owner alice\n");
    make_dropin(0777);
    tg::Policy p = tg::policy_load(conf_, dropin_);
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_TRUE(StartsWith(p.errors[0], dropin_ + ":0: cannot read drop-in directory: path-unsafe-dir"));
}

TEST_F(PolicyLoad, SymlinkedPolicyIsRefused)
{
    write(root_ + "/real.conf", "share ops owner alice\n");
    ASSERT_EQ(::symlink((root_ + "/real.conf").c_str(), conf_.c_str()), 0);
    tg::Policy p = tg::policy_load(conf_, dropin_);
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_TRUE(StartsWith(p.errors[0], conf_ + ":0: cannot read policy: path-symlink"));
}

TEST_F(PolicyLoad, ErrorsNameTheDropInAndWholeChecksSpanFiles)
{
    write(conf_, "share ops owner alice\n");
    make_dropin();
    write(dropin_ + "/10-a.conf", "\npermit view bob on ops hours 9-5\nshare ops owner bob\n");
    write(dropin_ + "/20-b.conf", "deny bob on nowhere\n");
    tg::Policy p = tg::policy_load(conf_, dropin_);
    ASSERT_EQ(p.errors.size(), 3u);
    EXPECT_EQ(p.errors[0], dropin_ + "/10-a.conf:2: hours '9-5' is not HH:MM-HH:MM");
    EXPECT_EQ(p.errors[1], dropin_ + "/10-a.conf:3: duplicate share 'ops' (first defined at " +
                               conf_ + ":1)");
    EXPECT_EQ(p.errors[2], dropin_ + "/20-b.conf:1: rule names undefined share 'nowhere'");
}

TEST_F(PolicyLoad, DropInWithBlankInItsNameIsRefused)
{
    write(conf_, "share ops owner alice\n");
    make_dropin();
    write(dropin_ + "/a b.conf", "permit view bob on ops\n");
    tg::Policy p = tg::policy_load(conf_, dropin_);
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_EQ(p.errors[0],
              dropin_ + "/a b.conf:0: file name must not contain blanks or control characters");
}

}  // namespace
