// The decision log's hash chain (log_chain.hpp): hashing, the head line,
// the writer's linking policy (log_link_plan, clauses 1-6), the strict
// record reader (json_flat_parse, clauses 1-7), the line scanner, the
// verifier (LogVerifier, clauses 1-5) against every kind of tampering, and
// log_append (decision_log.hpp, contract 4) on real files: a chain from an
// empty file, continuation, a cut last line, head mismatches, rotation,
// 64 concurrent writers, a held lock.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"
#include "tmuxguard/confine.hpp"
#include "tmuxguard/decision_log.hpp"
#include "tmuxguard/log_chain.hpp"

namespace {

using tg::kZeroHash;

constexpr struct timespec kTs = {1795617085, 123456000};  // 2026-11-25T14:31:25.123456Z

tg::DecisionRecord record_make(int i)
{
    tg::DecisionRecord r;
    r.event = i % 2 == 0 ? "check" : "attach";
    r.allow = i % 3 != 0;
    r.reason = r.allow ? "permitted" : "no-rule";
    r.uid = 1000 + i;
    r.share = "share" + std::to_string(i % 4);
    r.mode = "view";
    r.owner_uid = 1000;
    r.socket = "/run/tmuxguard/1000/share";
    r.server_pid = 4242;
    r.pid = 100 + i;
    return r;
}

// `n` records linked as log_append links them, starting from `prev`.
std::string chain_text(int n, std::string prev = kZeroHash, int first = 0)
{
    std::string text;
    for (int i = first; i < first + n; ++i) {
        std::string line = tg::log_encode(record_make(i), kTs, prev);
        prev = tg::log_line_hash(line);
        text += line;
    }
    return text;
}

// The lines of `text`, each with its '\n'.
std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t nl = text.find('\n', at);
        std::size_t end = nl == std::string::npos ? text.size() : nl + 1;
        out.push_back(text.substr(at, end - at));
        at = end;
    }
    return out;
}

std::string join(const std::vector<std::string>& lines)
{
    std::string out;
    for (const auto& l : lines)
        out += l;
    return out;
}

// The head that describes all of `text` (as log_append leaves it).
tg::LogHead head_of(const std::string& text)
{
    tg::LogHead h;
    h.size = text.size();
    auto lines = lines_of(text);
    h.count = lines.size();
    if (!lines.empty())
        h.hash = tg::log_line_hash(lines.back());
    return h;
}

// A memfd holding `text` (no root needed).
tg::UniqueFd memfd_with(const std::string& text)
{
    tg::UniqueFd fd(::memfd_create("log", MFD_CLOEXEC));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
    return fd;
}

struct VerifyFile {
    std::string name;
    std::string text;
    std::optional<tg::LogHead> head = std::nullopt;
};

// Runs the verifier over files, as `log verify` does.
tg::VerifyReport verify(const std::vector<VerifyFile>& files)
{
    tg::LogVerifier v;
    for (const auto& f : files) {
        tg::UniqueFd fd = memfd_with(f.text);
        v.file_begin(f.name, f.head);
        auto scanned = tg::log_lines_scan(fd.get(), UINT64_MAX, [&](const tg::LogLine& l) { return v.line(l); });
        EXPECT_TRUE(scanned);
        (void)v.file_end();
        if (v.failed())
            break;
    }
    return v.report();
}

// ---------------------------------------------------------------- hashing and the head

TEST(LogChainHash, Sha256KnownVectorsAndLongLines)
{
    EXPECT_EQ(tg::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(tg::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // Clause 2: a line longer than kMaxLine is linked by its last kMaxLine bytes.
    std::string tail(tg::kMaxLine, 'b');
    EXPECT_EQ(tg::log_line_hash("aaa" + tail), tg::sha256_hex(tail));
    EXPECT_EQ(tg::log_line_hash(tail), tg::sha256_hex(tail));
    EXPECT_TRUE(tg::log_hash_valid(kZeroHash));
    EXPECT_FALSE(tg::log_hash_valid(std::string(64, 'A')));
    EXPECT_FALSE(tg::log_hash_valid(std::string(63, '0')));
}

TEST(LogHead, FormatIsFixedWidthAndParsesBack)
{
    tg::LogHead h{2049, 1234567, 987654, 42, tg::sha256_hex("x")};
    std::string text = tg::log_head_format(h);
    ASSERT_EQ(text.size(), tg::kLogHeadSize);
    EXPECT_EQ(text, "tmuxguard-log-head 1 00000000000000002049 00000000000001234567 "
                    "00000000000000987654 00000000000000000042 " +
                        tg::sha256_hex("x") + "\n");
    auto back = tg::log_head_parse(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->dev, 2049u);
    EXPECT_EQ(back->ino, 1234567u);
    EXPECT_EQ(back->size, 987654u);
    EXPECT_EQ(back->count, 42u);
    EXPECT_EQ(back->hash, h.hash);
    tg::LogHead big{UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, kZeroHash};
    ASSERT_TRUE(tg::log_head_parse(tg::log_head_format(big)));
    EXPECT_EQ(tg::log_head_parse(tg::log_head_format(big))->ino, UINT64_MAX);
}

TEST(LogHead, ParseRefusesAnythingElse)
{
    const std::string good = tg::log_head_format(tg::LogHead{1, 2, 3, 4, tg::sha256_hex("y")});
    auto with = [&](std::size_t at, char c) {
        std::string s = good;
        s[at] = c;
        return s;
    };
    const std::string bad[] = {
        "",
        good.substr(0, good.size() - 1),                   // no newline
        good + "x",                                        // trailing junk
        "tmuxguard-log-head 2" + good.substr(20),          // another version
        with(25, 'x'),                                     // not a digit
        with(41, '0'),                                     // separator missing
        with(good.size() - 2, 'A'),                        // uppercase hex
        with(good.size() - 2, 'g'),                        // not hex
        "tmuxguard-log-head 1 99999999999999999999" + good.substr(41),  // above UINT64_MAX
    };
    for (const auto& s : bad)
        EXPECT_FALSE(tg::log_head_parse(s)) << s;
    EXPECT_TRUE(tg::log_head_parse(good));
    EXPECT_EQ(tg::log_head_path("/var/log/tmuxguard/decisions.log"), "/var/log/tmuxguard/decisions.log.head");
}

// ---------------------------------------------------------------- log_link_plan

tg::LogFileState state_of(const std::string& text, std::uint64_t ino = 7, std::size_t tail_bytes = 0)
{
    std::string_view t(text);
    if (tail_bytes != 0 && tail_bytes < t.size())
        t = t.substr(t.size() - tail_bytes);
    return tg::LogFileState{1, ino, text.size(), t};
}

tg::LogHead head_for(const std::string& text, std::uint64_t ino = 7)
{
    tg::LogHead h = head_of(text);
    h.dev = 1;
    h.ino = ino;
    return h;
}

TEST(LogLinkPlan, Clause1_EmptyFileStartsOrContinuesTheChain)
{
    tg::LogHead fresh{1, 7, 0, 0, kZeroHash};
    tg::LogLink l = tg::log_link_plan(fresh, state_of(""));
    EXPECT_EQ(l.prev, kZeroHash);
    EXPECT_FALSE(l.lead_newline);
    EXPECT_TRUE(l.head_update);
    EXPECT_EQ(l.count, 1u);
    EXPECT_EQ(tg::log_link_tail_bytes(fresh, 1, 7, 0), 0u);
    // Rotation: the head names the old file; the new empty one continues it.
    const std::string old = chain_text(3);
    tg::LogHead rotated = head_for(old, 7);
    l = tg::log_link_plan(rotated, state_of("", 8));
    EXPECT_EQ(l.prev, tg::log_line_hash(lines_of(old).back()));
    EXPECT_TRUE(l.head_update);
    EXPECT_EQ(l.count, 1u);
    // copytruncate: the same inode emptied: continues too, counting afresh.
    l = tg::log_link_plan(rotated, state_of("", 7));
    EXPECT_EQ(l.prev, rotated.hash);
    EXPECT_EQ(l.count, 1u);
}

TEST(LogLinkPlan, Clause2_CutRecordGetsItsOwnLine)
{
    const std::string text = chain_text(3);
    const std::string cut = text.substr(0, text.size() - 10);  // the last record cut short
    const std::string fragment = lines_of(cut).back();
    for (const tg::LogHead& head : {head_for(text), head_for(chain_text(2))}) {
        tg::LogLink l = tg::log_link_plan(head, state_of(cut));
        EXPECT_TRUE(l.lead_newline);
        EXPECT_EQ(l.prev, tg::log_line_hash(fragment + "\n"));
        EXPECT_TRUE(l.head_update);
    }
    // The one byte read first is not '\n': the writer must read more.
    EXPECT_EQ(tg::log_link_tail_bytes(head_for(text), 1, 7, cut.size()), 1u);
    // A fragment longer than kMaxLine: linked by its last bytes plus '\n'.
    std::string huge = text + std::string(tg::kMaxLine + 100, 'z');
    tg::LogLink l = tg::log_link_plan(head_for(text), state_of(huge, 7, tg::kMaxLine));
    EXPECT_EQ(l.prev, tg::sha256_hex(std::string(tg::kMaxLine - 1, 'z') + "\n"));
}

TEST(LogLinkPlan, Clause3_TheHeadsHashWhenItNamesTheFile)
{
    const std::string text = chain_text(4);
    tg::LogHead head = head_for(text);
    EXPECT_EQ(tg::log_link_tail_bytes(head, 1, 7, text.size()), 1u);  // the common case: one byte
    tg::LogLink l = tg::log_link_plan(head, state_of(text, 7, 1));
    EXPECT_EQ(l.prev, tg::log_line_hash(lines_of(text).back()));
    EXPECT_FALSE(l.lead_newline);
    EXPECT_EQ(l.count, 5u);
    // The last record changed in place: the next one still links to what
    // the head recorded, so the change shows at the next record.
    std::string edited = text;
    edited[edited.size() - 20] ^= 1;
    l = tg::log_link_plan(head, state_of(edited, 7, 1));
    EXPECT_EQ(l.prev, head.hash);
    // Cut at a record boundary: the head's hash (of the removed record).
    std::string shorter = join({lines_of(text)[0], lines_of(text)[1]});
    l = tg::log_link_plan(head, state_of(shorter, 7, 1));
    EXPECT_EQ(l.prev, head.hash);
    EXPECT_EQ(l.count, 5u);  // the head's count goes on: the verifier sees the loss
}

TEST(LogLinkPlan, Clause4_RecordsPastTheHeadAreLinkedAndCounted)
{
    const std::string text = chain_text(5);
    tg::LogHead head = head_for(join({lines_of(text)[0], lines_of(text)[1], lines_of(text)[2]}));
    EXPECT_EQ(tg::log_link_tail_bytes(head, 1, 7, text.size()), text.size());
    tg::LogLink l = tg::log_link_plan(head, state_of(text));
    EXPECT_EQ(l.prev, tg::log_line_hash(lines_of(text).back()));
    EXPECT_EQ(l.count, 6u);  // 3 + 2 past the head + this one
    EXPECT_TRUE(l.head_update);
}

TEST(LogLinkPlan, Clause5_ALateWriterOnARotatedFileLeavesTheHead)
{
    const std::string old = chain_text(3);
    tg::LogHead head = head_for(chain_text(1, kZeroHash, 10), 8);  // names the new file
    tg::LogLink l = tg::log_link_plan(head, state_of(old, 7));
    EXPECT_EQ(l.prev, tg::log_line_hash(lines_of(old).back()));
    EXPECT_FALSE(l.head_update);
}

TEST(LogLinkPlan, Clause6_AnythingInTheFileGetsARecord)
{
    std::mt19937 rng(5);
    for (int n = 0; n < 2000; ++n) {
        std::string text;
        for (std::size_t k = rng() % 300; k > 0; --k)
            text += static_cast<char>(rng() % 4 == 0 ? '\n' : rng() % 256);
        tg::LogHead head{1, rng() % 2 == 0 ? 7u : 8u, rng() % 400, rng() % 10, tg::sha256_hex(text)};
        tg::LogLink l = tg::log_link_plan(head, state_of(text));
        EXPECT_TRUE(tg::log_hash_valid(l.prev));
        EXPECT_EQ(l.lead_newline, !text.empty() && text.back() != '\n');
    }
}

// ---------------------------------------------------------------- json_flat_parse

TEST(JsonFlatParse, AcceptsRecordsAndDecodesStrings)
{
    auto obj = tg::json_flat_parse(
        R"( {"a":"x\"\\\/\b\f\n\r\t","b":-12.5e+3,"c":null,"d":true,"e":false,"f":"\u00e9\ud83d\ude00\u0000z","g":0} )");
    ASSERT_TRUE(obj) << obj.error().message();
    ASSERT_EQ(obj->size(), 7u);
    EXPECT_EQ((*obj)[0].key, "a");
    EXPECT_EQ((*obj)[0].value, "x\"\\/\b\f\n\r\t");
    EXPECT_EQ((*obj)[1].kind, tg::JsonKind::number);
    EXPECT_EQ((*obj)[1].value, "-12.5e+3");
    EXPECT_EQ((*obj)[2].kind, tg::JsonKind::null);
    EXPECT_EQ((*obj)[3].kind, tg::JsonKind::boolean);
    EXPECT_EQ((*obj)[3].value, "true");
    EXPECT_EQ((*obj)[5].value, std::string("\xc3\xa9\xf0\x9f\x98\x80\0z", 8));
    EXPECT_TRUE(tg::json_flat_parse("{}"));
    EXPECT_TRUE(tg::json_flat_parse("{\"k\":\"caf\xc3\xa9\"}"));
    EXPECT_EQ(tg::json_flat_get(*obj, "g")->value, "0");
    EXPECT_EQ(tg::json_flat_get(*obj, "zz"), nullptr);
}

// Clauses 1-7: each refusal says what, and where.
TEST(JsonFlatParse, RefusesWithReasonAndOffset)
{
    struct Case {
        std::string text;
        std::string detail;
    };
    std::string many = "{";
    for (std::size_t i = 0; i <= tg::kMaxJsonFields; ++i)
        many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
    many += "}";
    const Case table[] = {
        {"", "expected '{' at byte 0"},
        {"[1]", "expected '{' at byte 0"},
        {R"({"a":1)", "expected ',' or '}' at byte 6"},
        {R"({"a":1,})", "expected a string at byte 7"},
        {R"({"a" 1})", "expected ':' at byte 5"},
        {R"({"a":{"b":1}})", "nested object or array at byte 5"},
        {R"({"a":[1]})", "nested object or array at byte 5"},
        {R"({"a":1,"a":2})", "duplicate key at byte 7"},
        {R"({"":1})", "key of 0 or more than 64 bytes at byte 1"},
        {"{\"" + std::string(65, 'k') + "\":1}", "key of 0 or more than 64 bytes at byte 1"},
        {many, "more than 64 members at byte " + std::to_string(many.rfind(",\"k64") + 1)},
        {R"({"a":"\x"})", "unknown escape at byte 7"},
        {R"({"a":"\u12"})", "expected 4 hex digits after \\u at byte 10"},
        {R"({"a":"\u12g4"})", "expected 4 hex digits after \\u at byte 10"},
        {R"({"a":"\ud800"})", "high surrogate without a low one at byte 12"},
        {R"({"a":"\ud800\u0041"})", "high surrogate without a low one at byte 18"},
        {R"({"a":"\udc00"})", "low surrogate without a high one at byte 12"},
        {"{\"a\":\"\x01\"}", "raw control byte in a string at byte 6"},
        {"{\"a\":\"\xff\"}", "invalid UTF-8 at byte 6"},
        {"{\"a\":\"\xc0\x80\"}", "invalid UTF-8 at byte 6"},
        {"{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8 at byte 6"},
        {R"({"a":"x)", "unterminated string at byte 7"},
        {R"({"a":"x\)", "unterminated string at byte 8"},
        {R"({"a":01})", "expected ',' or '}' at byte 6"},
        {R"({"a":1.})", "expected a digit after '.' at byte 7"},
        {R"({"a":1e})", "expected a digit in the exponent at byte 7"},
        {R"({"a":-})", "expected a value at byte 6"},
        {R"({"a":nul})", "expected a value at byte 5"},
        {R"({"a":tru})", "expected a value at byte 5"},
        {R"({"a":+1})", "expected a value at byte 5"},
        {"{\"a\":" + std::string(33, '1') + "}", "number longer than 32 bytes at byte 5"},
        {R"({"a":1}{})", "text after the object at byte 7"},
        {R"({"a":1} x)", "text after the object at byte 8"},
    };
    for (const auto& c : table) {
        auto r = tg::json_flat_parse(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().reason, "json-invalid");
        EXPECT_EQ(r.error().detail, c.detail) << c.text;
    }
    // Clause 1: the length cap is checked before anything is read.
    std::string huge = "{\"a\":\"" + std::string(5000, 'x') + "\"}";
    auto r = tg::json_flat_parse(huge);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail, "longer than 4095 bytes");
    EXPECT_TRUE(tg::json_flat_parse(huge, huge.size()));
}

// Every line the encoder can write reads back with the same values, prev
// included; random bytes never crash the reader.
TEST(JsonFlatParse, ReadsBackWhatTheEncoderWritesAndSurvivesGarbage)
{
    std::mt19937 rng(20261125);
    for (int n = 0; n < 2000; ++n) {
        tg::DecisionRecord r = record_make(n);
        for (std::string* s : {&r.share, &r.detail, &r.tty, &r.session}) {
            s->clear();
            for (std::size_t k = rng() % 300; k > 0; --k)
                *s += static_cast<char>(0x20 + rng() % 0x5f);
        }
        std::string prev = tg::sha256_hex(std::to_string(n));
        std::string line = tg::log_encode(r, kTs, prev);
        auto obj = tg::json_flat_parse(std::string_view(line).substr(0, line.size() - 1));
        ASSERT_TRUE(obj) << obj.error().message() << "\n" << line;
        EXPECT_EQ(obj->back().key, "prev");
        EXPECT_EQ(obj->back().value, prev);
        EXPECT_EQ(tg::json_flat_get(*obj, "uid")->value, std::to_string(r.uid));
        EXPECT_EQ(tg::json_flat_get(*obj, "share")->value, r.share.substr(0, tg::kMaxField) +
                                                               (r.share.size() > tg::kMaxField ? "..." : ""));
    }
    for (int n = 0; n < 20000; ++n) {
        std::string s = "{\"a\":";
        for (std::size_t k = rng() % 40; k > 0; --k)
            s += static_cast<char>(rng() % 256);
        (void)tg::json_flat_parse(s);
    }
}

// ---------------------------------------------------------------- log_lines_scan

TEST(LogLinesScan, LinesLongLinesACutEndAndALimit)
{
    std::string longline(tg::kMaxLine + 5000, 'L');
    std::string text = "one\n\n" + longline + "\nlast";
    tg::UniqueFd fd = memfd_with(text);
    std::vector<tg::LogLine> seen;
    std::vector<std::string> texts;
    ASSERT_TRUE(tg::log_lines_scan(fd.get(), UINT64_MAX, [&](const tg::LogLine& l) {
        seen.push_back(l);
        texts.emplace_back(l.text);
        return true;
    }));
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(texts[0], "one\n");
    EXPECT_EQ(seen[0].end, 4u);
    EXPECT_EQ(texts[1], "\n");
    EXPECT_EQ(seen[2].length, longline.size() + 1);
    EXPECT_EQ(texts[2], std::string(tg::kMaxLine - 1, 'L') + "\n");  // its last kMaxLine bytes
    EXPECT_EQ(texts[3], "last");
    EXPECT_FALSE(seen[3].complete);
    EXPECT_EQ(seen[3].end, text.size());
    int n = 0;
    ASSERT_TRUE(tg::log_lines_scan(fd.get(), 4, [&](const tg::LogLine&) { return ++n > 0; }));
    EXPECT_EQ(n, 1);
    n = 0;
    ASSERT_TRUE(tg::log_lines_scan(fd.get(), UINT64_MAX, [&](const tg::LogLine&) { return ++n < 2; }));
    EXPECT_EQ(n, 2);  // stops when told
}

// ---------------------------------------------------------------- LogVerifier

TEST(LogVerifier, CleanChainAndItsHead)
{
    const std::string text = chain_text(10);
    tg::VerifyReport r = verify({{"log", text, head_for(text)}});
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.records, 10u);
    EXPECT_EQ(r.last_hash, tg::log_line_hash(lines_of(text).back()));
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_TRUE(r.notes.empty());
    // An empty log: nothing read, the head's hash is where the chain stands.
    tg::LogHead h{1, 7, 0, 0, tg::sha256_hex("before")};
    r = verify({{"log", "", h}});
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.records, 0u);
    EXPECT_EQ(r.last_hash, h.hash);
}

// Every kind of tampering, each at its exact line (clauses 1, 3 and 4).
TEST(LogVerifier, EveryTamperKindIsFoundAtItsLine)
{
    const std::string text = chain_text(8);
    const auto lines = lines_of(text);
    const tg::LogHead head = head_for(text);
    auto without = [&](std::size_t k) {
        auto l = lines;
        l.erase(l.begin() + static_cast<std::ptrdiff_t>(k));
        return join(l);
    };
    auto edited = [&](std::size_t k) {
        auto l = lines;
        std::size_t at = l[k].find("\"share\":\"share") + 14;
        l[k][at] = 'x';  // one byte in a field
        return join(l);
    };
    auto duplicated = [&](std::size_t k) {
        auto l = lines;
        l.insert(l.begin() + static_cast<std::ptrdiff_t>(k), l[k]);
        return join(l);
    };
    const std::string mismatch = "\"prev\" does not match the previous record (line ";
    const std::string why = "): it was changed, or a record was removed or inserted";
    struct Case {
        const char* name;
        std::string text;
        bool with_head;
        std::string problem;
    };
    const Case table[] = {
        {"edited-middle", edited(3), false, "log:5: " + mismatch + "4" + why},
        {"removed", without(3), false, "log:4: " + mismatch + "3" + why},
        {"removed-first", without(0), false, ""},  // a chain may start anywhere: a note
        {"duplicated", duplicated(3), false, "log:5: " + mismatch + "4" + why},
        {"cut-mid-record", text.substr(0, text.size() - 7), false,
         "log:8: truncated: the last line has no newline (a record cut short)"},
        {"cut-at-boundary", without(7), true,
         "log:8: truncated at a record boundary: the head records 8 records (" +
             std::to_string(text.size()) + " bytes), the file has 7 (" +
             std::to_string(text.size() - lines[7].size()) + " bytes)"},
        {"cut-at-boundary-no-head", without(7), false, ""},
        {"last-edited", edited(7), true,
         "log:8: the record the head names last was changed (its sha256 is not the head's)"},
        {"last-edited-no-head", edited(7), false, ""},
        {"not-json", join({lines[0], "garbage\n", lines[1]}), false,
         "log:2: not one complete JSON object (expected '{' at byte 0)"},
        {"empty-line", join({lines[0], "\n", lines[1]}), false,
         "log:2: not one complete JSON object (expected '{' at byte 0)"},
        {"too-long", join({lines[0], "{\"a\":\"" + std::string(5000, 'x') + "\"}\n"}), false,
         "log:2: not one complete JSON object (5009 bytes; a record is at most 4096)"},
    };
    for (const auto& c : table) {
        SCOPED_TRACE(c.name);
        tg::VerifyReport r = verify({{"log", c.text, c.with_head ? std::optional(head) : std::nullopt}});
        EXPECT_EQ(r.problem, c.problem);
    }
}

TEST(LogVerifier, Clause3_PrevFieldShapes)
{
    const auto lines = lines_of(chain_text(3));
    std::string no_prev = tg::log_encode(record_make(9), kTs);
    std::string bad_prev = tg::log_encode(record_make(9), kTs, std::string(64, 'A'));
    std::string number_prev = R"({"ts":"x","prev":12})" "\n";
    EXPECT_EQ(verify({{"log", join({lines[0], lines[1], no_prev})}}).problem,
              "log:3: no \"prev\" field after chained records (a record was inserted)");
    EXPECT_EQ(verify({{"log", join({lines[0], bad_prev})}}).problem,
              "log:2: malformed \"prev\" (want 64 lowercase hex digits)");
    EXPECT_EQ(verify({{"log", join({lines[0], number_prev})}}).problem,
              "log:2: malformed \"prev\" (want 64 lowercase hex digits)");
    // A chain that starts over with zeros in the middle: records before it removed.
    std::string restart = tg::log_encode(record_make(9), kTs, kZeroHash);
    EXPECT_EQ(verify({{"log", join({lines[0], lines[1], restart})}}).problem,
              "log:3: \"prev\" does not match the previous record (line 2): it was changed, or a "
              "record was removed or inserted");
}

// Clause 2 and 3: records of the version before the chain at the start, and
// a first record that continues an earlier file, are notes, not problems.
TEST(LogVerifier, Clause2_OlderRecordsAndContinuationsAreNotes)
{
    std::string legacy = tg::log_encode(record_make(1), kTs) + tg::log_encode(record_make(2), kTs);
    std::string chained = chain_text(2, tg::log_line_hash(lines_of(legacy).back()));
    tg::VerifyReport r = verify({{"log", legacy + chained, head_for(legacy + chained)}});
    EXPECT_EQ(r.problem, "");
    ASSERT_EQ(r.notes.size(), 1u);
    EXPECT_EQ(r.notes[0], "log:1: note: 2 records at the start carry no \"prev\" (written before the hash chain)");
    EXPECT_EQ(r.records, 4u);
    // Only old records: one note too.
    r = verify({{"log", legacy}});
    EXPECT_EQ(r.problem, "");
    ASSERT_EQ(r.notes.size(), 1u);
    EXPECT_EQ(r.notes[0], "log:1: note: 2 records carry no \"prev\" (written before the hash chain)");
    // A first chained record after old ones must link to the last old one.
    r = verify({{"log", legacy + chain_text(2)}});
    EXPECT_EQ(r.problem, "log:3: \"prev\" does not match the previous record (line 2): it was "
                         "changed, or a record was removed or inserted");
    // A file that continues an earlier one.
    const std::string later = chain_text(2, tg::sha256_hex("earlier"));
    r = verify({{"log.1", later}});
    EXPECT_EQ(r.problem, "");
    ASSERT_EQ(r.notes.size(), 1u);
    EXPECT_EQ(r.notes[0], "log.1:1: note: the chain continues an earlier file (prev " +
                              tg::sha256_hex("earlier") + ")");
}

// Files in order form one chain; the first record of each links to the
// last line of the one before.
TEST(LogVerifier, Clause3_AcrossFiles)
{
    const std::string all = chain_text(9);
    const auto lines = lines_of(all);
    const std::string a = join({lines[0], lines[1], lines[2]});
    const std::string b = join({lines[3], lines[4], lines[5]});
    const std::string c = join({lines[6], lines[7], lines[8]});
    tg::VerifyReport r = verify({{"log.2", a}, {"log.1", b}, {"empty", ""}, {"log", c}});
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.records, 9u);
    r = verify({{"log.2", a}, {"log", c}});
    EXPECT_EQ(r.problem, "log:1: \"prev\" does not match the previous record (log.2:3): it was "
                         "changed, or a record was removed or inserted");
    r = verify({{"log.1", b}, {"log.2", a}});
    EXPECT_EQ(r.problem, "log.2:1: \"prev\" does not match the previous record (log.1:3): it was "
                         "changed, or a record was removed or inserted");
}

// Clause 4: records past the head warn; a head that does not fit the file
// is a problem.
TEST(LogVerifier, Clause4_TheHeadAgainstTheFile)
{
    const std::string text = chain_text(6);
    const auto lines = lines_of(text);
    tg::LogHead at4 = head_for(join({lines[0], lines[1], lines[2], lines[3]}));
    tg::VerifyReport r = verify({{"log", text, at4}});
    EXPECT_EQ(r.problem, "");
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_EQ(r.warnings[0], "log:5: warning: 2 records past the head (a writer stopped between its "
                             "record and the head, or something other than tmuxguard appended them)");
    tg::LogHead inside = at4;
    inside.size -= 3;
    EXPECT_EQ(verify({{"log", text, inside}}).problem,
              "log:4: the head says a record ends at byte " + std::to_string(inside.size) +
                  ", inside line 4: the log was changed at or before it");
    tg::LogHead counted = head_for(text);
    counted.count = 9;
    EXPECT_EQ(verify({{"log", text, counted}}).problem,
              "log:6: the head records 9 records up to byte " + std::to_string(text.size()) +
                  ", the file has 6: records were removed or inserted");
    tg::LogHead hashed = head_for(text);
    hashed.hash = tg::sha256_hex("other");
    EXPECT_EQ(verify({{"log", text, hashed}}).problem,
              "log:6: the record the head names last was changed (its sha256 is not the head's)");
    // A head written for the empty file, records after it: a warning.
    r = verify({{"log", text, tg::LogHead{1, 7, 0, 0, kZeroHash}}});
    EXPECT_EQ(r.problem, "");
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_TRUE(r.warnings[0].starts_with("log:1: warning: 6 records past the head")) << r.warnings[0];
}

// ---------------------------------------------------------------- log_append on real files

class LogAppendFiles : public tgtest::RootTree {
protected:
    LogAppendFiles() : RootTree("the log and head must be root-owned") {}

    void SetUp() override
    {
        RootTree::SetUp();
        if (HasFatalFailure())
            return;
        log_ = at("decisions.log");
    }

    // A root-owned 0660 file with `content`.
    void file_make(const std::string& path, const std::string& content)
    {
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
        ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
        ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
        ::close(fd);
    }
    // The log with `content` and a head that describes it (as reload makes it).
    void log_make(const std::string& content)
    {
        file_make(log_, content);
        tg::UniqueFd fd(::open(log_.c_str(), O_RDONLY | O_CLOEXEC));
        auto head = tg::log_head_compute(fd.get());
        ASSERT_TRUE(head);
        file_make(tg::log_head_path(log_), tg::log_head_format(*head));
    }
    std::string read(const std::string& path)
    {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    tg::LogHead head_now()
    {
        auto h = tg::log_head_parse(read(tg::log_head_path(log_)));
        EXPECT_TRUE(h);
        return h ? *h : tg::LogHead{};
    }
    // One record through log_append (a fresh open, as one wrapper run).
    tg::Result<std::string> append(int i)
    {
        auto files = tg::log_files_open(log_);
        if (!files)
            return std::unexpected(files.error());
        return tg::log_append(*files, record_make(i), kTs);
    }
    tg::VerifyReport verify_now(bool with_head = true)
    {
        tg::LogVerifier v;
        tg::UniqueFd fd(::open(log_.c_str(), O_RDONLY | O_CLOEXEC));
        v.file_begin(log_, with_head ? std::optional(head_now()) : std::nullopt);
        EXPECT_TRUE(tg::log_lines_scan(fd.get(), UINT64_MAX, [&](const tg::LogLine& l) { return v.line(l); }));
        (void)v.file_end();
        return v.report();
    }

    std::string log_;
};

TEST_F(LogAppendFiles, Contract4_ChainFromAnEmptyFile)
{
    ASSERT_NO_FATAL_FAILURE(log_make(""));
    std::string last;
    for (int i = 0; i < 5; ++i) {
        auto hash = append(i);
        ASSERT_TRUE(hash) << hash.error().message();
        last = *hash;
    }
    const auto lines = lines_of(read(log_));
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[0], tg::log_encode(record_make(0), kTs, kZeroHash));
    for (std::size_t k = 1; k < lines.size(); ++k)
        EXPECT_EQ(lines[k], tg::log_encode(record_make(static_cast<int>(k)), kTs, tg::log_line_hash(lines[k - 1])));
    EXPECT_EQ(last, tg::sha256_hex(lines.back()));
    struct stat st {};
    ASSERT_EQ(::stat(log_.c_str(), &st), 0);
    tg::LogHead h = head_now();
    EXPECT_EQ(h.ino, st.st_ino);
    EXPECT_EQ(h.dev, st.st_dev);
    EXPECT_EQ(h.size, static_cast<std::uint64_t>(st.st_size));
    EXPECT_EQ(h.count, 5u);
    EXPECT_EQ(h.hash, last);
    EXPECT_EQ(verify_now().problem, "");
}

// A log from before the chain gets its head from reload; the first chained
// record links to its last line.
TEST_F(LogAppendFiles, Contract4_ContinuesAnExistingLog)
{
    const std::string legacy = tg::log_encode(record_make(1), kTs) + tg::log_encode(record_make(2), kTs);
    ASSERT_NO_FATAL_FAILURE(log_make(legacy));
    ASSERT_TRUE(append(3));
    const auto lines = lines_of(read(log_));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[2], tg::log_encode(record_make(3), kTs, tg::log_line_hash(lines[1])));
    EXPECT_EQ(head_now().count, 3u);
    tg::VerifyReport r = verify_now();
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.notes.size(), 1u);
}

// Clause 2 on disk: the cut record stays on its own line, the new record
// follows a '\n' and verify points at the cut.
TEST_F(LogAppendFiles, Clause2_CutLastLine)
{
    const std::string text = chain_text(3);
    ASSERT_NO_FATAL_FAILURE(log_make(text));
    const std::string cut = text.substr(0, text.size() - 15);
    ASSERT_EQ(::truncate(log_.c_str(), static_cast<off_t>(cut.size())), 0);
    ASSERT_TRUE(append(4));
    const std::string now = read(log_);
    const std::string fragment = lines_of(cut).back();
    const std::string want = tg::log_encode(record_make(4), kTs, tg::log_line_hash(fragment + "\n"));
    EXPECT_EQ(now, cut + "\n" + want);
    EXPECT_EQ(verify_now().problem,
              log_ + ":3: not one complete JSON object (unterminated string at byte " +
                  std::to_string(fragment.size()) + ")");
}

// Clause 3 on disk: a cut at a record boundary and a changed last record
// stay visible after more records are written.
TEST_F(LogAppendFiles, Clause3_TruncationAndLastEditSurviveTheNextRecord)
{
    const std::string text = chain_text(4);
    const auto lines = lines_of(text);
    ASSERT_NO_FATAL_FAILURE(log_make(text));
    ASSERT_EQ(::truncate(log_.c_str(), static_cast<off_t>(text.size() - lines[3].size())), 0);
    EXPECT_EQ(verify_now().problem, log_ + ":4: truncated at a record boundary: the head records 4 "
                                           "records (" + std::to_string(text.size()) +
                                           " bytes), the file has 3 (" +
                                           std::to_string(text.size() - lines[3].size()) + " bytes)");
    ASSERT_TRUE(append(5));
    EXPECT_EQ(verify_now().problem, log_ + ":4: \"prev\" does not match the previous record (line 3): "
                                           "it was changed, or a record was removed or inserted");

    std::string edited = text;
    edited[edited.rfind("\"share\":\"share") + 14] = 'x';  // one byte of the last record
    ASSERT_NO_FATAL_FAILURE(log_make(text));
    {
        // Change the last record in place (same inode, same size).
        int fd = ::open(log_.c_str(), O_WRONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::pwrite(fd, edited.data(), edited.size(), 0), static_cast<ssize_t>(edited.size()));
        ::close(fd);
    }
    EXPECT_EQ(verify_now().problem,
              log_ + ":4: the record the head names last was changed (its sha256 is not the head's)");
    EXPECT_EQ(verify_now(false).problem, "") << "the chain alone cannot see it";
    ASSERT_TRUE(append(6));
    EXPECT_EQ(verify_now(false).problem,
              log_ + ":5: \"prev\" does not match the previous record (line 4): it was changed, or a "
                     "record was removed or inserted");
}

// Clause 1 and 5 on disk: rotate (rename, new empty file); the new file's
// first record continues the old file's chain, and verify of both in order
// is clean; a late writer holding the old file adds to it without moving
// the head.
TEST_F(LogAppendFiles, Clause1_RotationKeepsTheChain)
{
    ASSERT_NO_FATAL_FAILURE(log_make(""));
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(append(i));
    auto late = tg::log_files_open(log_);  // opened before the rotation
    ASSERT_TRUE(late);
    const std::string old_path = log_ + ".1";
    ASSERT_EQ(::rename(log_.c_str(), old_path.c_str()), 0);
    file_make(log_, "");
    for (int i = 3; i < 5; ++i)
        ASSERT_TRUE(append(i));
    const auto old_lines = lines_of(read(old_path));
    const auto new_lines = lines_of(read(log_));
    ASSERT_EQ(new_lines.size(), 2u);
    EXPECT_EQ(new_lines[0], tg::log_encode(record_make(3), kTs, tg::log_line_hash(old_lines.back())));
    tg::LogHead before = head_now();
    EXPECT_EQ(before.count, 2u);
    tg::VerifyReport r = verify({{old_path, read(old_path)}, {log_, read(log_), before}});
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.records, 5u);

    ASSERT_TRUE(tg::log_append(*late, record_make(9), kTs));
    EXPECT_EQ(lines_of(read(old_path)).size(), 4u);
    EXPECT_EQ(tg::log_head_format(head_now()), tg::log_head_format(before)) << "clause 5";
    EXPECT_EQ(verify({{old_path, read(old_path)}}).problem, "");
}

// A missing or malformed head: no record, the log untouched (fail closed).
TEST_F(LogAppendFiles, Contract3_NoUsableHeadNoRecord)
{
    ASSERT_NO_FATAL_FAILURE(log_make(chain_text(2)));
    const std::string before = read(log_);
    ::unlink(tg::log_head_path(log_).c_str());
    auto missing = append(1);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().reason, "log-unavailable");
    EXPECT_EQ(missing.error().subject, tg::log_head_path(log_));
    EXPECT_EQ(missing.error().err, ENOENT);
    file_make(tg::log_head_path(log_), "tmuxguard-log-head 1 garbage\n");
    auto malformed = append(1);
    ASSERT_FALSE(malformed);
    EXPECT_EQ(malformed.error().reason, "log-unavailable");
    EXPECT_EQ(malformed.error().detail, "malformed head");
    EXPECT_EQ(read(log_), before);
    ASSERT_EQ(::symlink(log_.c_str(), (log_ + ".lnk").c_str()), 0);
    ASSERT_EQ(::rename((log_ + ".lnk").c_str(), tg::log_head_path(log_).c_str()), 0);
    auto linked = append(1);
    ASSERT_FALSE(linked);
    EXPECT_EQ(linked.error().err, ELOOP);
}

// The lock is bounded: a holder that never lets go makes the writer give up
// after about kLogLockWaitMs with "log locked", writing nothing.
TEST_F(LogAppendFiles, Contract4_AHeldLockIsABoundedWait)
{
    ASSERT_NO_FATAL_FAILURE(log_make(""));
    tg::UniqueFd holder(::open(tg::log_head_path(log_).c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_EQ(::flock(holder.get(), LOCK_SH), 0);
    auto files = tg::log_files_open(log_);
    ASSERT_TRUE(files);
    auto start = std::chrono::steady_clock::now();
    auto r = tg::log_append(*files, record_make(1), kTs);
    auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "log-unavailable");
    EXPECT_EQ(r.error().detail, "log locked");
    EXPECT_GE(waited, std::chrono::milliseconds(tg::kLogLockWaitMs));
    EXPECT_LT(waited, std::chrono::milliseconds(tg::kLogLockWaitMs + 1500));
    EXPECT_EQ(read(log_), "");
    // Released, a writer gets through.
    ASSERT_EQ(::flock(holder.get(), LOCK_UN), 0);
    EXPECT_TRUE(tg::log_append(*files, record_make(1), kTs));
}

// The wrapper opens the log and head before its filter (confine.hpp) and
// appends after it: flock, pread, write and pwrite on those descriptors
// still work there, while opening the log anew for writing does not.
TEST_F(LogAppendFiles, Contract4_AppendWorksUnderTheConfinement)
{
    ASSERT_NO_FATAL_FAILURE(log_make(""));
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        auto files = tg::log_files_open(log_);
        int exec_fd = ::open("/bin/true", O_PATH | O_CLOEXEC);
        if (!files || exec_fd < 0 || !tg::confine_exec_once(exec_fd))
            ::_exit(10);
        if (tg::log_files_open(log_))
            ::_exit(11);  // the filter should refuse opening for writing
        for (int i = 0; i < 3; ++i)
            if (!tg::log_append(*files, record_make(i), kTs))
                ::_exit(12);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "10 setup, 11 opened under the filter, 12 append failed";
    EXPECT_EQ(lines_of(read(log_)).size(), 3u);
    EXPECT_EQ(head_now().count, 3u);
    EXPECT_EQ(verify_now().problem, "");
}

// 64 processes x 50 records through log_append: every record once, whole,
// and one valid chain that the head describes.
TEST_F(LogAppendFiles, Contract4_ConcurrentWritersFormOneChain)
{
    constexpr int kWriters = 64;
    constexpr int kRecords = 50;
    ASSERT_NO_FATAL_FAILURE(log_make(""));
    int gate[2];
    ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
    std::vector<pid_t> pids;
    for (int w = 0; w < kWriters; ++w) {
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(gate[1]);
            char c;
            if (::read(gate[0], &c, 1) < 0)
                ::_exit(9);
            auto files = tg::log_files_open(log_);
            if (!files)
                ::_exit(10);
            for (int k = 0; k < kRecords; ++k) {
                tg::DecisionRecord r = record_make(w);
                r.pid = ::getpid();
                r.detail = "seq=" + std::to_string(k);
                if (!tg::log_append(*files, r, kTs))
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
    const auto lines = lines_of(read(log_));
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kWriters * kRecords));
    std::set<std::string> seen;
    for (const auto& l : lines) {
        auto obj = tg::json_flat_parse(std::string_view(l).substr(0, l.size() - 1));
        ASSERT_TRUE(obj) << l;
        EXPECT_TRUE(seen.insert(tg::json_flat_get(*obj, "pid")->value + "/" +
                                tg::json_flat_get(*obj, "detail")->value).second);
    }
    tg::VerifyReport r = verify_now();
    EXPECT_EQ(r.problem, "");
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_EQ(head_now().count, static_cast<std::uint64_t>(kWriters * kRecords));
}

}  // namespace
