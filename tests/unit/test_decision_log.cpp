// The decision log: encoder, escaping, opening, writing, syslog.
// Test names carry the clause of decision_log.hpp they prove:
//   Clause1: strings capped and escaped, no raw control byte, one '\n' at the end;
//   Clause2: one write() per record, a short write is an error;
//   Clause3: a record that cannot be written (or a log that cannot be used) is an error.
// Contract 4 (log_append and the hash chain) is in test_log_chain.cpp.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tmuxguard/decision_log.hpp"
#include "support.hpp"

namespace {

using tg::DecisionRecord;

// ---------------------------------------------------------------------------
// A strict JSON reader for flat objects (string, number, null, true, false
// values), written for these tests. It rejects raw control bytes in strings,
// unknown escapes, malformed \u, lone surrogates and invalid UTF-8. Strings
// decode "raw": \u0000-\u00ff give back the single byte, so a record's string
// fields can be compared byte for byte with the input the encoder was given.

struct JsonValue {
    enum class Kind { string, number, null, boolean } kind = Kind::null;
    std::string text;  // decoded string, or the number's / literal's text
};
using JsonObject = std::vector<std::pair<std::string, JsonValue>>;

// Length of the valid UTF-8 character at s[i] (1 for ASCII), 0 if invalid.
std::size_t test_utf8_length(std::string_view s, std::size_t i)
{
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    for (std::size_t k = 1; k < n; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (cc & 0x3fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool test_utf8_valid(std::string_view s)
{
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = test_utf8_length(s, i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

void utf8_append(std::string& out, std::uint32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}

    // The whole input must be exactly one object (surrounding blanks allowed).
    std::optional<JsonObject> object()
    {
        JsonObject obj;
        std::set<std::string> keys;
        blanks();
        if (!take('{'))
            return std::nullopt;
        blanks();
        if (!take('}')) {
            do {
                std::string key;
                JsonValue v;
                blanks();
                if (!string(key) || !keys.insert(key).second)
                    return std::nullopt;
                blanks();
                if (!take(':'))
                    return std::nullopt;
                blanks();
                if (!value(v))
                    return std::nullopt;
                obj.emplace_back(std::move(key), std::move(v));
                blanks();
            } while (take(','));
            if (!take('}'))
                return std::nullopt;
        }
        blanks();
        if (pos_ != s_.size())
            return std::nullopt;
        return obj;
    }

private:
    bool take(char c)
    {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void blanks()
    {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                    s_[pos_] == '\r'))
            ++pos_;
    }
    bool hex4(std::uint32_t& cp)
    {
        if (s_.size() - pos_ < 4)
            return false;
        cp = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[pos_++];
            int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (d < 0)
                return false;
            cp = cp * 16 + static_cast<std::uint32_t>(d);
        }
        return true;
    }
    bool unicode_escape(std::string& out)
    {
        std::uint32_t cp = 0;
        if (!hex4(cp))
            return false;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return false;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            std::uint32_t lo = 0;
            if (!take('\\') || !take('u') || !hex4(lo) || lo < 0xdc00 || lo > 0xdfff)
                return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp < 0x100)
            out += static_cast<char>(cp);  // raw decoding, see above
        else
            utf8_append(out, cp);
        return true;
    }
    bool escape(std::string& out)
    {
        if (pos_ >= s_.size())
            return false;
        char e = s_[pos_++];
        static const std::map<char, char> kSimple = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},
                                                     {'b', '\b'}, {'f', '\f'},  {'n', '\n'},
                                                     {'r', '\r'}, {'t', '\t'}};
        if (e == 'u')
            return unicode_escape(out);
        auto it = kSimple.find(e);
        if (it == kSimple.end())
            return false;
        out += it->second;
        return true;
    }
    bool string(std::string& out)
    {
        if (!take('"'))
            return false;
        while (pos_ < s_.size()) {
            auto c = static_cast<unsigned char>(s_[pos_]);
            if (c == '"') {
                ++pos_;
                return true;
            }
            if (c < 0x20)
                return false;
            if (c == '\\') {
                ++pos_;
                if (!escape(out))
                    return false;
                continue;
            }
            std::size_t n = test_utf8_length(s_, pos_);
            if (n == 0)
                return false;
            out.append(s_.substr(pos_, n));
            pos_ += n;
        }
        return false;
    }
    bool digits()
    {
        std::size_t start = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9')
            ++pos_;
        return pos_ > start;
    }
    bool number(std::string& out)
    {
        std::size_t start = pos_;
        take('-');
        if (take('0')) {
            if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9')
                return false;
        } else if (!digits()) {
            return false;
        }
        if (take('.') && !digits())
            return false;
        if ((take('e') || take('E')) && !((take('+') || take('-') || true) && digits()))
            return false;
        out = std::string(s_.substr(start, pos_ - start));
        return true;
    }
    bool literal(std::string_view word)
    {
        if (s_.substr(pos_).starts_with(word)) {
            pos_ += word.size();
            return true;
        }
        return false;
    }
    bool value(JsonValue& v)
    {
        if (pos_ >= s_.size())
            return false;
        char c = s_[pos_];
        if (c == '"') {
            v.kind = JsonValue::Kind::string;
            return string(v.text);
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            v.kind = JsonValue::Kind::number;
            return number(v.text);
        }
        v.kind = c == 'n' ? JsonValue::Kind::null : JsonValue::Kind::boolean;
        v.text = c == 'n' ? "null" : c == 't' ? "true" : "false";
        return literal(v.text);
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

std::optional<JsonObject> json_parse(std::string_view s)
{
    return JsonReader(s).object();
}

const JsonValue* json_get(const JsonObject& o, std::string_view key)
{
    for (const auto& [k, v] : o)
        if (k == key)
            return &v;
    return nullptr;
}

TEST(JsonReaderSelfTest, RejectsWhatIsNotStrictJson)
{
    EXPECT_TRUE(json_parse(R"({"a":"x","b":-12,"c":null,"d":true})"));
    EXPECT_TRUE(json_parse(R"({"a":"\ud83d\ude00\u00e9\n"})"));
    const char* bad[] = {
        R"({"a":"x")",           R"({"a":"x",})",       R"({"a":'x'})",
        "{\"a\":\"\x01\"}",      R"({"a":"\x"})",       R"({"a":"\u12"})",
        R"({"a":"\ud800"})",     "{\"a\":\"\xff\"}",    "{\"a\":\"\xc0\x80\"}",
        R"({"a":01})",           R"({"a":1,"a":2})",    R"({"a":nul})",
        R"({"a":"x"}{})",        R"({"a":1.})",         "{\"a\":\"\xed\xa0\x80\"}",
    };
    for (const char* s : bad)
        EXPECT_FALSE(json_parse(s)) << s;
}

// ---------------------------------------------------------------------------
// Helpers for records and lines.

const char* const kFieldOrder[] = {"ts",   "event",   "decision", "reason",     "uid",
                                   "share", "mode",   "owner_uid", "socket",    "server_pid",
                                   "pid",  "tty",     "session",  "rule",       "detail",
                                   "prev"};

struct StringField {
    const char* key;
    std::string DecisionRecord::*member;
    bool null_when_empty;
};
const StringField kStringFields[] = {
    {"event", &DecisionRecord::event, false},  {"reason", &DecisionRecord::reason, false},
    {"share", &DecisionRecord::share, false},  {"mode", &DecisionRecord::mode, false},
    {"socket", &DecisionRecord::socket, true}, {"tty", &DecisionRecord::tty, true},
    {"session", &DecisionRecord::session, true}, {"rule", &DecisionRecord::rule, true},
    {"detail", &DecisionRecord::detail, false},
};

struct NumberField {
    const char* key;
    long long DecisionRecord::*member;
};
const NumberField kNumberFields[] = {{"uid", &DecisionRecord::uid},
                                     {"owner_uid", &DecisionRecord::owner_uid},
                                     {"server_pid", &DecisionRecord::server_pid},
                                     {"pid", &DecisionRecord::pid}};

constexpr struct timespec kFixedTs = {1795617085, 123456789};  // 2026-11-25T14:31:25.123456Z

DecisionRecord fixed_record()
{
    DecisionRecord r;
    r.event = "attach";
    r.allow = false;
    r.reason = "no-rule";
    r.uid = 1001;
    r.share = "build";
    r.mode = "none";
    r.owner_uid = 1000;
    r.socket = "/run/tmuxguard/1000/build";
    r.server_pid = 4242;
    r.pid = 777;
    r.tty = "/dev/pts/3";
    r.session = "build";
    return r;
}

// The input as the raw decoder gives it back: a UTF-8 C1 control (C2 80 to
// C2 9F) is written as \u0080-\u009f, which decodes to the single byte.
std::string c1_folded(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0u;
        if (static_cast<unsigned char>(s[i]) == 0xc2 && next >= 0x80 && next < 0xa0)
            continue;  // keep only the second byte
        out += s[i];
    }
    return out;
}

// A decoded string field matches its input: the same bytes, or a cut that
// is a prefix of the input followed by "..." (C1 controls folded as above).
::testing::AssertionResult decoded_matches(std::string_view decoded, std::string_view raw_input,
                                           std::size_t min_kept)
{
    const std::string folded = c1_folded(raw_input);
    std::string_view input = folded;
    if (decoded == input)
        return ::testing::AssertionSuccess();
    if (!decoded.ends_with("..."))
        return ::testing::AssertionFailure() << "changed without a cut";
    std::string_view kept = decoded.substr(0, decoded.size() - 3);
    if (!input.starts_with(kept) || kept.size() >= input.size())
        return ::testing::AssertionFailure() << "cut is not a prefix of the input";
    const std::size_t folded_away = raw_input.size() - folded.size();  // one byte per C1
    if (kept.size() > tg::kMaxField || kept.size() + folded_away < min_kept)
        return ::testing::AssertionFailure() << "cut at " << kept.size() << " bytes";
    return ::testing::AssertionSuccess();
}

// Every property the contract promises for one encoded record.
::testing::AssertionResult line_is_sound(const std::string& line, const DecisionRecord& r)
{
    if (line.empty() || line.back() != '\n')
        return ::testing::AssertionFailure() << "no final newline";
    if (line.size() > tg::kMaxRecord)
        return ::testing::AssertionFailure() << "line of " << line.size() << " bytes";
    for (std::size_t i = 0; i + 1 < line.size(); ++i) {
        auto c = static_cast<unsigned char>(line[i]);
        if (c < 0x20 || c == 0x7f)
            return ::testing::AssertionFailure() << "raw byte " << int(c) << " at " << i;
    }
    if (!test_utf8_valid(line))
        return ::testing::AssertionFailure() << "line is not valid UTF-8";
    auto obj = json_parse(std::string_view(line).substr(0, line.size() - 1));
    if (!obj)
        return ::testing::AssertionFailure() << "not strict JSON: " << line;
    std::size_t k = 0;
    for (const char* key : kFieldOrder)
        if (k < obj->size() && (*obj)[k].first == key)
            ++k;
    if (k != obj->size() || obj->size() < 14)
        return ::testing::AssertionFailure() << "fields missing or out of order";
    bool has_detail = json_get(*obj, "detail") != nullptr;
    if (json_get(*obj, "decision")->text != (r.allow ? "allow" : "deny"))
        return ::testing::AssertionFailure() << "decision";
    for (const auto& f : kNumberFields) {
        const JsonValue* v = json_get(*obj, f.key);
        long long want = r.*f.member;
        bool ok = want < 0 ? v->kind == JsonValue::Kind::null
                           : v->kind == JsonValue::Kind::number && v->text == std::to_string(want);
        if (!ok)
            return ::testing::AssertionFailure() << f.key << " is " << v->text;
    }
    for (const auto& f : kStringFields) {
        const JsonValue* v = json_get(*obj, f.key);
        const std::string& want = r.*f.member;
        if (v == nullptr) {
            if (std::string_view(f.key) != "detail")
                return ::testing::AssertionFailure() << f.key << " missing";
            continue;
        }
        if (f.null_when_empty && want.empty()) {
            if (v->kind != JsonValue::Kind::null)
                return ::testing::AssertionFailure() << f.key << " should be null";
            continue;
        }
        if (v->kind != JsonValue::Kind::string)
            return ::testing::AssertionFailure() << f.key << " is not a string";
        // Without fallback (detail kept), a cut keeps all but at most 3 bytes
        // of the cap (the length of a UTF-8 sequence that did not fit).
        auto ok = decoded_matches(v->text, want, has_detail ? tg::kMaxField - 3 : 0);
        if (!ok)
            return ok << " in field " << f.key;
    }
    return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// Clause 1: encoding.

TEST(DecisionLogEncode, Clause1_ExactLineForFixedRecord)
{
    EXPECT_EQ(tg::log_encode(fixed_record(), kFixedTs),
              R"({"ts":"2026-11-25T14:31:25.123456Z","event":"attach","decision":"deny",)"
              R"("reason":"no-rule","uid":1001,"share":"build","mode":"none","owner_uid":1000,)"
              R"("socket":"/run/tmuxguard/1000/build","server_pid":4242,"pid":777,)"
              R"("tty":"/dev/pts/3","session":"build","rule":null})"
              "\n");
}

TEST(DecisionLogEncode, Clause1_AllowWithRuleAndDetail)
{
    DecisionRecord r = fixed_record();
    r.allow = true;
    r.reason = "permitted";
    r.mode = "view";
    r.rule = "/etc/tmuxguard/policy.conf:12";
    r.detail = "say \"hi\"\\";
    std::string line = tg::log_encode(r, kFixedTs);
    EXPECT_EQ(line,
              R"({"ts":"2026-11-25T14:31:25.123456Z","event":"attach","decision":"allow",)"
              R"("reason":"permitted","uid":1001,"share":"build","mode":"view","owner_uid":1000,)"
              R"("socket":"/run/tmuxguard/1000/build","server_pid":4242,"pid":777,)"
              R"("tty":"/dev/pts/3","session":"build","rule":"/etc/tmuxguard/policy.conf:12",)"
              R"("detail":"say \"hi\"\\"})"
              "\n");
    EXPECT_TRUE(line_is_sound(line, r));
}

TEST(DecisionLogEncode, Clause1_UnknownValuesAreNullAndEmptyDetailIsOmitted)
{
    DecisionRecord r;  // every number -1, every string empty except event
    EXPECT_EQ(tg::log_encode(r, timespec{0, 0}),
              R"({"ts":"1970-01-01T00:00:00.000000Z","event":"attach","decision":"deny",)"
              R"("reason":"","uid":null,"share":"","mode":"","owner_uid":null,"socket":null,)"
              R"("server_pid":null,"pid":null,"tty":null,"session":null,"rule":null})"
              "\n");
    r.uid = 0;  // root is uid 0, not unknown
    r.owner_uid = 0;
    std::string line = tg::log_encode(r, timespec{0, 0});
    EXPECT_NE(line.find(R"("uid":0,)"), std::string::npos);
    EXPECT_NE(line.find(R"("owner_uid":0,)"), std::string::npos);
    EXPECT_EQ(line.find("detail"), std::string::npos);
}

TEST(DecisionLogTimestamp, Rfc3339UtcWithMicroseconds)
{
    const std::pair<struct timespec, const char*> table[] = {
        {{0, 0}, "1970-01-01T00:00:00.000000Z"},
        {{1795617085, 123456789}, "2026-11-25T14:31:25.123456Z"},
        {{1795617085, 999999999}, "2026-11-25T14:31:25.999999Z"},
        {{951782400, 1000}, "2000-02-29T00:00:00.000001Z"},
        {{4102444799, 500}, "2099-12-31T23:59:59.000000Z"},
    };
    for (const auto& [ts, want] : table)
        EXPECT_EQ(tg::log_timestamp(ts), want);
    // A year that overflows struct tm gives a fixed marker, never garbage.
    EXPECT_EQ(tg::log_timestamp({std::numeric_limits<time_t>::max(), 0}), "invalid-time");
}

TEST(DecisionLogEscape, Clause1_EscapeTable)
{
    using namespace std::string_literals;
    const std::pair<std::string, std::string> table[] = {
        {"plain-name_1.2", "plain-name_1.2"},
        {"a\"b", "a\\\"b"},
        {"a\\b", "a\\\\b"},
        {"\n\r\t", "\\u000a\\u000d\\u0009"},
        {"\x1b[31m", "\\u001b[31m"},
        {"\0x"s, "\\u0000x"},
        {"\x7f", "\\u007f"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},                      // valid 2-byte
        {"\xe2\x82\xac", "\xe2\x82\xac"},                    // valid 3-byte
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},            // valid 4-byte
        {"\xff\xfe", "\\u00ff\\u00fe"},                      // never valid
        {"\xc3", "\\u00c3"},                                 // truncated sequence
        {"\xc3(", "\\u00c3("},                               // bad continuation
        {"\xc0\x80", "\\u00c0\\u0080"},                      // overlong NUL
        {"\xe0\x80\xaf", "\\u00e0\\u0080\\u00af"},           // overlong '/'
        {"\xed\xa0\x80", "\\u00ed\\u00a0\\u0080"},           // surrogate U+D800
        {"\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080"},  // above U+10FFFF
        {"\xc2\x9b", "\\u009b"},  // U+009B (C1 CSI): valid UTF-8, but a terminal may obey it
        {"\xc2\x85x", "\\u0085x"}, // U+0085 (NEL) likewise
        {"\xc2\xa0", "\xc2\xa0"},  // U+00A0 is no control: kept as a character
        {"/", "/"},
    };
    for (const auto& [in, want] : table)
        EXPECT_EQ(tg::json_escape(in), want) << "input of " << in.size() << " bytes";
}

TEST(DecisionLogEscape, Clause1_CapAddsEllipsisOnlyWhenCut)
{
    EXPECT_EQ(tg::json_escape(std::string(300, 'a')), std::string(256, 'a') + "...");
    EXPECT_EQ(tg::json_escape(std::string(256, 'a')), std::string(256, 'a'));
    EXPECT_EQ(tg::json_escape(std::string(257, 'a')), std::string(256, 'a') + "...");
    EXPECT_EQ(tg::json_escape("abcdef", 4), "abcd...");
    EXPECT_EQ(tg::json_escape("abcd", 4), "abcd");
    EXPECT_EQ(tg::json_escape("abc", 0), "...");
    // The cap counts input bytes, not output bytes.
    EXPECT_EQ(tg::json_escape("\x01\x02\x03", 2), "\\u0001\\u0002...");
}

TEST(DecisionLogEscape, Clause1_CapNeverCutsUtf8)
{
    const std::string seqs[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    for (const auto& seq : seqs) {
        for (std::size_t room = 0; room < seq.size(); ++room) {
            std::string in = std::string(256 - room, 'a') + seq;
            EXPECT_EQ(tg::json_escape(in), std::string(256 - room, 'a') + "...")
                << seq.size() << "-byte sequence with " << room << " bytes of room";
        }
        std::string fits = std::string(256 - seq.size(), 'a') + seq;
        EXPECT_EQ(tg::json_escape(fits), fits);
    }
}

// Fields that each hold every byte value 0..255, then random byte strings
// (random bytes mixed with valid and broken UTF-8, lengths across the cap)
// in every string field and random numbers: every line is sound.
TEST(DecisionLogEncode, Clause1_PropertyEveryByteInEveryFieldGivesSoundJson)
{
    std::string every_byte;
    for (int b = 0; b < 256; ++b)
        every_byte += static_cast<char>(b);
    std::vector<DecisionRecord> records;
    for (int b = 0; b < 256; ++b) {
        DecisionRecord r;
        for (const auto& f : kStringFields)
            r.*f.member = "x" + std::string(3, static_cast<char>(b)) + "y";
        r.allow = (b % 2) == 0;
        records.push_back(r);
    }
    DecisionRecord all;
    for (const auto& f : kStringFields)
        all.*f.member = every_byte;
    records.push_back(all);

    std::mt19937 rng(20261125);  // fixed seed: a failure reproduces
    const std::string pieces[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3",
                                  "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf",         "\"",
                                  "\\",       "\n",           "\x7f",             "\x1b]0;"};
    for (int n = 0; n < 3000; ++n) {
        DecisionRecord r;
        for (const auto& f : kStringFields) {
            std::string s;
            std::size_t len = rng() % 320;
            while (s.size() < len) {
                if (rng() % 4 == 0)
                    s += pieces[rng() % std::size(pieces)];
                else
                    s += static_cast<char>(rng() % 256);
            }
            r.*f.member = s;
        }
        const long long numbers[] = {-1, 0, 1, 4294967295LL, static_cast<long long>(rng())};
        for (const auto& f : kNumberFields)
            r.*f.member = numbers[rng() % std::size(numbers)];
        r.allow = rng() % 2 == 0;
        records.push_back(r);
    }
    for (std::size_t i = 0; i < records.size(); ++i) {
        std::string line = tg::log_encode(records[i], kFixedTs);
        ASSERT_TRUE(line_is_sound(line, records[i])) << "record " << i;
    }
}

// Too long with the detail: the detail goes first, the other fields stay whole.
TEST(DecisionLogEncode, Clause1_DetailDroppedFirstWhenRecordTooLong)
{
    DecisionRecord r = fixed_record();
    for (const auto& f : kStringFields)
        r.*f.member = std::string(256, 'a');
    r.share = std::string(256, '\\');   // 512 bytes escaped
    r.socket = std::string(256, '"');   // 512 bytes escaped
    r.detail = std::string(256, '\x01');  // 1536 bytes escaped
    std::string line = tg::log_encode(r, kFixedTs);
    ASSERT_TRUE(line_is_sound(line, r));
    auto obj = json_parse(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(obj);
    EXPECT_EQ(json_get(*obj, "detail"), nullptr);
    EXPECT_EQ(json_get(*obj, "share")->text, r.share);
    EXPECT_EQ(json_get(*obj, "socket")->text, r.socket);

    r.detail = "short detail";  // fits: kept
    line = tg::log_encode(r, kFixedTs);
    EXPECT_NE(line.find(R"("detail":"short detail"})"), std::string::npos);
}

// The worst case (every field full of bytes that escape to six) still fits.
TEST(DecisionLogEncode, Clause1_WorstCaseRecordStaysWithinMaxRecord)
{
    DecisionRecord r;
    for (const auto& f : kStringFields)
        r.*f.member = std::string(1000, '\x01');
    r.uid = r.owner_uid = r.server_pid = r.pid = 9223372036854775807LL;
    std::string line = tg::log_encode(r, kFixedTs);
    EXPECT_LE(line.size(), tg::kMaxRecord);
    ASSERT_TRUE(line_is_sound(line, r));
    auto obj = json_parse(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(obj);
    EXPECT_TRUE(json_get(*obj, "share")->text.ends_with("..."));
}

// Contract 4: the chain's link is the last field, written whole even when
// the fallback cap cuts every other field; the line stays within kMaxRecord.
TEST(DecisionLogEncode, Clause1_PrevIsTheLastFieldAndNeverCut)
{
    const std::string prev(64, 'a');
    EXPECT_EQ(tg::log_encode(fixed_record(), kFixedTs, prev),
              R"({"ts":"2026-11-25T14:31:25.123456Z","event":"attach","decision":"deny",)"
              R"("reason":"no-rule","uid":1001,"share":"build","mode":"none","owner_uid":1000,)"
              R"("socket":"/run/tmuxguard/1000/build","server_pid":4242,"pid":777,)"
              R"("tty":"/dev/pts/3","session":"build","rule":null,"prev":")" +
                  prev + "\"}\n");
    DecisionRecord r;
    for (const auto& f : kStringFields)
        r.*f.member = std::string(1000, '\x01');
    r.uid = r.owner_uid = r.server_pid = r.pid = 9223372036854775807LL;
    std::string line = tg::log_encode(r, kFixedTs, prev);
    EXPECT_LE(line.size(), tg::kMaxRecord);
    ASSERT_TRUE(line_is_sound(line, r));
    EXPECT_TRUE(line.ends_with(",\"prev\":\"" + prev + "\"}\n")) << line;
}

// ---------------------------------------------------------------------------
// Syslog text.

TEST(DecisionLogSyslog, Clause1_FormatExactAndEscaped)
{
    DecisionRecord r = fixed_record();
    EXPECT_EQ(tg::log_syslog_format(r),
              "decision=deny reason=no-rule uid=1001 share=\"build\" mode=none event=attach "
              "owner_uid=1000 socket=\"/run/tmuxguard/1000/build\" server_pid=4242 pid=777 "
              "tty=\"/dev/pts/3\" session=\"build\"");
    DecisionRecord bad;
    bad.reason = "no-rule";
    bad.uid = 1001;
    bad.share = "x\n\x1b[2J\"%s%n";
    bad.mode = "view";
    bad.detail = "line1\rline2";
    EXPECT_EQ(tg::log_syslog_format(bad),
              "decision=deny reason=no-rule uid=1001 share=\"x\\u000a\\u001b[2J\\\"%s%n\" "
              "mode=view event=attach detail=\"line1\\u000dline2\"");
    // The record's hash, when it was written, comes last: the remote anchor.
    const std::string hash(64, 'c');
    EXPECT_EQ(tg::log_syslog_format(bad, hash),
              "decision=deny reason=no-rule uid=1001 share=\"x\\u000a\\u001b[2J\\\"%s%n\" "
              "mode=view event=attach detail=\"line1\\u000dline2\" sha256=" + hash);
    DecisionRecord huge;
    for (const auto& f : kStringFields)
        huge.*f.member = std::string(1000, '\x7f');
    EXPECT_TRUE(tg::log_syslog_format(huge, hash).ends_with(" sha256=" + hash));
    std::string text = tg::log_syslog_format(huge);
    EXPECT_LE(text.size(), tg::kMaxRecord);
    for (char c : text)
        EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f);
}

// Runs `body` in a forked child; its exit status, or -1 when it had to be
// killed after `timeout` (a hang), or 128+signal when a signal ended it.
int child_run(const std::function<int()>& body,
              std::chrono::milliseconds timeout = std::chrono::seconds(20))
{
    pid_t pid = ::fork();
    if (pid < 0)
        return -2;
    if (pid == 0)
        ::_exit(body());
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -1;
        }
        ::usleep(2000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// log_syslog() for real: in a private mount namespace, a datagram socket at
// /dev/log receives what glibc sends. Proves facility, level, ident, and
// that user text is data, not a format.
TEST(DecisionLogSyslog, Clause1_SendsOneAuthprivLinePerRecord)
{
    ASSERT_EQ(::geteuid(), 0u) << "needs root (a mount namespace for a private /dev/log)";
    int pipefd[2];
    ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
    DecisionRecord deny = fixed_record();
    deny.share = "%n%s%x\x1b";
    DecisionRecord allow = fixed_record();
    allow.allow = true;
    allow.reason = "permitted";
    int status = child_run([&]() -> int {
        ::close(pipefd[0]);
        auto report = [&](const std::string& s) {
            return ::write(pipefd[1], s.data(), s.size()) == static_cast<ssize_t>(s.size());
        };
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") != 0)
            return report("setup: " + std::string(std::strerror(errno))) ? 10 : 11;
        int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa {};
        sa.sun_family = AF_UNIX;
        std::strcpy(sa.sun_path, "/dev/log");
        struct timeval tv {5, 0};
        if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
            ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
            return report("socket: " + std::string(std::strerror(errno))) ? 12 : 13;
        tg::log_syslog(deny);
        tg::log_syslog(allow);
        for (int k = 0; k < 2; ++k) {
            char buf[8192];
            ssize_t n = ::recv(s, buf, sizeof buf, 0);
            if (n <= 0 || !report(std::string(buf, static_cast<std::size_t>(n)) + '\0'))
                return 14;
        }
        return 0;
    });
    ::close(pipefd[1]);
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;)
        got.append(buf, static_cast<std::size_t>(n));
    ::close(pipefd[0]);
    ASSERT_EQ(status, 0) << got;
    std::vector<std::string> msgs;
    std::stringstream ss(got);
    for (std::string m; std::getline(ss, m, '\0');)
        msgs.push_back(m);
    ASSERT_EQ(msgs.size(), 2u);
    // <84> = LOG_AUTHPRIV (10 << 3) | LOG_WARNING; <85> = ... | LOG_NOTICE.
    EXPECT_TRUE(msgs[0].starts_with("<84>")) << msgs[0];
    EXPECT_TRUE(msgs[1].starts_with("<85>")) << msgs[1];
    EXPECT_NE(msgs[0].find("tmuxguard["), std::string::npos) << msgs[0];
    EXPECT_TRUE(msgs[0].ends_with("]: " + tg::log_syslog_format(deny))) << msgs[0];
    EXPECT_TRUE(msgs[1].ends_with("]: " + tg::log_syslog_format(allow))) << msgs[1];
    EXPECT_NE(msgs[0].find("share=\"%n%s%x\\u001b\""), std::string::npos) << msgs[0];
}

// ---------------------------------------------------------------------------
// Clause 3 (log_open) and clause 2 (log_write) on real files in a root-owned
// temporary directory.

class DecisionLogFiles : public tgtest::RootTree {
protected:
    DecisionLogFiles() : RootTree("the log must be root-owned") {}

    // A root-owned log file with mode 0620 and `content`.
    std::string log_file_make(const std::string& name, const std::string& content = {})
    {
        std::string path = at(name);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0620);
        EXPECT_GE(fd, 0) << path << ": " << std::strerror(errno);
        EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
        EXPECT_EQ(::fchmod(fd, 0620), 0);  // regardless of umask
        ::close(fd);
        return path;
    }
    std::string file_read(const std::string& path)
    {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
};

// log_open() in a child with a deadline, so a hang fails instead of blocking.
struct OpenOutcome {
    bool finished = false;
    bool ok = false;
    std::string reason, subject, detail;
    int err = 0;
};

OpenOutcome log_open_in_child(const std::string& path, bool head = false)
{
    int pipefd[2];
    OpenOutcome out;
    if (::pipe2(pipefd, O_CLOEXEC) != 0)
        return out;
    int status = child_run(
        [&]() -> int {
            ::close(pipefd[0]);
            auto fd = head ? tg::log_head_open(path) : tg::log_open(path);
            std::string msg = fd ? "ok\n\n\n0" :
                                   fd.error().reason + "\n" + fd.error().subject + "\n" +
                                       fd.error().detail + "\n" + std::to_string(fd.error().err);
            return ::write(pipefd[1], msg.data(), msg.size()) == static_cast<ssize_t>(msg.size())
                       ? 0 : 1;
        },
        std::chrono::seconds(5));
    ::close(pipefd[1]);
    std::string got;
    char buf[1024];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;)
        got.append(buf, static_cast<std::size_t>(n));
    ::close(pipefd[0]);
    out.finished = status == 0;
    std::stringstream ss(got);
    std::string err;
    std::getline(ss, out.reason);
    std::getline(ss, out.subject);
    std::getline(ss, out.detail);
    std::getline(ss, err);
    out.ok = out.reason == "ok";
    out.err = err.empty() ? -1 : std::stoi(err);
    return out;
}

// Read and write (the writer reads the tail it links to), append-only
// writes; the head is opened for rewriting in place, without O_APPEND.
TEST_F(DecisionLogFiles, Clause3_LogOpenAcceptsRootOwnedAppendFile)
{
    std::string path = log_file_make("decisions.log", "old\n");
    auto head = tg::log_head_open(log_file_make("decisions.log.head"));
    ASSERT_TRUE(head) << head.error().message();
    EXPECT_EQ(::fcntl(head->get(), F_GETFL) & (O_ACCMODE | O_APPEND), O_RDWR);
    auto fd = tg::log_open(path);
    ASSERT_TRUE(fd) << fd.error().message();
    int flags = ::fcntl(fd->get(), F_GETFL);
    EXPECT_EQ(flags & O_ACCMODE, O_RDWR);
    EXPECT_NE(flags & O_APPEND, 0);
    EXPECT_NE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, 0);
    ASSERT_TRUE(tg::log_write(fd->get(), "new\n"));
    EXPECT_EQ(file_read(path), "old\nnew\n");
}

TEST_F(DecisionLogFiles, Clause3_LogOpenRefusesEveryUnsafeFile)
{
    std::string good = log_file_make("good.log");
    struct Case {
        const char* name;
        std::function<void(const std::string&)> make;
        int err;             // expected errno, 0 for a refusal after fstat
        const char* detail;  // expected detail
    };
    const Case table[] = {
        {"missing", [](const std::string&) {}, ENOENT, "cannot open"},
        {"symlink", [&](const std::string& p) { ASSERT_EQ(::symlink(good.c_str(), p.c_str()), 0); },
         ELOOP, "cannot open"},
        // O_RDWR opens a FIFO at once (it is its own reader): fstat refuses it.
        {"fifo-without-reader", [](const std::string& p) { ASSERT_EQ(::mkfifo(p.c_str(), 0620), 0); },
         0, "not a regular file"},
        {"directory", [](const std::string& p) { ASSERT_EQ(::mkdir(p.c_str(), 0755), 0); }, EISDIR,
         "cannot open"},
        {"hard-linked",
         [&](const std::string& p) {
             std::string f = log_file_make("linked.log");
             ASSERT_EQ(::link(f.c_str(), p.c_str()), 0);
         },
         0, "has more than one link"},
        {"not-root-owned",
         [&](const std::string& p) {
             std::string f = log_file_make("user.log");
             ASSERT_EQ(::rename(f.c_str(), p.c_str()), 0);
             ASSERT_EQ(::chown(p.c_str(), 65534, 65534), 0);
         },
         0, "not owned by root"},
        {"other-writable",
         [&](const std::string& p) {
             std::string f = log_file_make("ow.log");
             ASSERT_EQ(::rename(f.c_str(), p.c_str()), 0);
             ASSERT_EQ(::chmod(p.c_str(), 0622), 0);
         },
         0, "writable by other"},
    };
    for (const auto& c : table) {
        SCOPED_TRACE(c.name);
        std::string path = at(std::string("case-") + c.name);
        c.make(path);
        for (bool head : {false, true}) {
            SCOPED_TRACE(head ? "log_head_open" : "log_open");
            OpenOutcome o = log_open_in_child(path, head);
            ASSERT_TRUE(o.finished) << "log_open hung or crashed";
            EXPECT_FALSE(o.ok);
            EXPECT_EQ(o.reason, "log-unavailable");
            EXPECT_EQ(o.subject, path);
            EXPECT_EQ(o.err, c.err) << std::strerror(o.err);
            EXPECT_EQ(o.detail, c.detail);
        }
    }
    // The missing file was not created (no O_CREAT).
    EXPECT_NE(::access(at("case-missing").c_str(), F_OK), 0);
}

// A FIFO with a reader opens without blocking and is then refused by fstat.
TEST_F(DecisionLogFiles, Clause3_LogOpenRefusesFifoWithReader)
{
    std::string path = at("fifo");
    ASSERT_EQ(::mkfifo(path.c_str(), 0620), 0);
    int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(reader, 0);
    OpenOutcome o = log_open_in_child(path);
    ::close(reader);
    ASSERT_TRUE(o.finished) << "log_open hung or crashed";
    EXPECT_EQ(o.reason, "log-unavailable");
    EXPECT_EQ(o.detail, "not a regular file");
}

// A write that could only be partial (the pipe holds 4096 bytes) is an error.
TEST(DecisionLogWrite, Clause2_ShortWriteIsError)
{
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    ASSERT_EQ(::fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
    auto r = tg::log_write(p[1], std::string(8192, 'x'));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "log-unavailable");
    EXPECT_EQ(r.error().detail, "short write");
    r = tg::log_write(p[1], "more\n");  // the pipe is full now
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().err, EAGAIN);
    ::close(p[0]);
    ::close(p[1]);
}

TEST(DecisionLogWrite, Clause3_EmptyLineAndBadDescriptorAreErrors)
{
    EXPECT_FALSE(tg::log_write(1, ""));
    auto r = tg::log_write(-1, "x\n");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "log-unavailable");
    EXPECT_EQ(r.error().err, EBADF);
}

// Any finite RLIMIT_FSIZE (set in a child, SIGXFSZ ignored as the wrapper
// does) refuses the record and leaves the file untouched, even one that
// would leave room: concurrent appenders make any size check racy. Without
// a limit the record is written.
TEST_F(DecisionLogFiles, Clause3_FileSizeLimitRefusesWholeRecord)
{
    const std::string before = "existing record\n";  // 16 bytes
    const std::string line = tg::log_encode(fixed_record(), kFixedTs);
    struct Case {
        rlim_t limit;
        bool written;
    };
    const Case table[] = {{before.size() + line.size() - 1, false},
                          {before.size() + 10, false},
                          {before.size() - 1, false},
                          {before.size() + line.size(), false},
                          {1u << 30, false},
                          {RLIM_INFINITY, true}};
    for (const auto& c : table) {
        SCOPED_TRACE(c.limit);
        std::string path = log_file_make("limit-" + std::to_string(c.limit), before);
        int status = child_run([&]() -> int {
            ::signal(SIGXFSZ, SIG_IGN);
            struct rlimit lim {c.limit, c.limit};
            if (::setrlimit(RLIMIT_FSIZE, &lim) != 0)
                return 10;
            auto fd = tg::log_open(path);
            if (!fd)
                return 11;
            auto r = tg::log_write(fd->get(), line);
            if (c.written)
                return r ? 0 : 12;
            return !r && r.error().reason == "log-unavailable" && r.error().err == EFBIG ? 0 : 13;
        });
        EXPECT_EQ(status, 0);
        EXPECT_EQ(file_read(path), c.written ? before + line : before);
    }
}

// 64 processes x 200 records into one O_APPEND file: every record arrives
// whole, on its own line, exactly once.
TEST_F(DecisionLogFiles, Clause2_ConcurrentWritersNeverInterleave)
{
    constexpr int kWriters = 64;
    constexpr int kRecords = 200;
    std::string path = log_file_make("concurrent.log");
    int gate[2];
    ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
    std::vector<pid_t> pids;
    for (int w = 0; w < kWriters; ++w) {
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(gate[1]);
            char c;
            if (::read(gate[0], &c, 1) < 0)  // EOF when the parent opens the gate
                ::_exit(9);
            auto fd = tg::log_open(path);
            if (!fd)
                ::_exit(10);
            DecisionRecord r = fixed_record();
            r.pid = ::getpid();
            r.share = std::string(100 + (w * 37) % 150, static_cast<char>('a' + w % 26));
            for (int seq = 0; seq < kRecords; ++seq) {
                r.detail = "seq=" + std::to_string(seq);
                if (!tg::log_write(fd->get(), tg::log_encode(r, kFixedTs)))
                    ::_exit(11);
            }
            ::_exit(0);
        }
        pids.push_back(pid);
    }
    ::close(gate[0]);
    ::close(gate[1]);
    for (pid_t pid : pids) {
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer " << pid;
    }
    std::map<long long, std::set<int>> seen;
    std::istringstream in(file_read(path));
    std::size_t lines = 0;
    for (std::string l; std::getline(in, l);) {
        ++lines;
        auto obj = json_parse(l);
        ASSERT_TRUE(obj) << "line " << lines << " is not one whole record: " << l.substr(0, 200);
        long long pid = std::stoll(json_get(*obj, "pid")->text);
        std::string detail = json_get(*obj, "detail")->text;
        ASSERT_TRUE(detail.starts_with("seq="));
        EXPECT_TRUE(seen[pid].insert(std::stoi(detail.substr(4))).second) << "duplicate";
    }
    EXPECT_EQ(lines, static_cast<std::size_t>(kWriters * kRecords));
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kWriters));
    for (pid_t pid : pids) {
        const auto& seqs = seen[pid];
        EXPECT_EQ(seqs.size(), static_cast<std::size_t>(kRecords)) << "writer " << pid;
        if (!seqs.empty()) {
            EXPECT_EQ(*seqs.begin(), 0);
            EXPECT_EQ(*seqs.rbegin(), kRecords - 1);
        }
    }
}

}  // namespace
