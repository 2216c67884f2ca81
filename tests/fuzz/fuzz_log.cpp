// Fuzz target: the decision record encoder (decision_log.hpp): tg::log_encode,
// tg::json_escape and tg::log_syslog_format over records whose every field
// comes from the input.
//
// Input: NUL-separated fields: event, reason, share, mode, socket, tty,
// session, rule, detail, then one field of blank-separated integers: allow,
// uid, owner_uid, server_pid, pid, ts seconds, ts nanoseconds, escape cap.
//
// Properties:
//  L1 the record is one line: it ends in '\n', holds no other byte below
//     0x20 and no 0x7f, and is at most kMaxRecord bytes;
//  L2 it is valid JSON (a strict RFC 8259 reader, fuzz.hpp): one object
//     with the documented keys in the documented order (detail last, only
//     when given and when it fits);
//  L3 its values are the record's: decision, numbers (null when unknown),
//     null for an empty optional string, and every string that is valid
//     UTF-8 decodes to the input itself, or, when longer than the smallest
//     cap (48), to a prefix of it of at least 45 bytes followed by "...";
//  L4 json_escape with any cap writes a JSON string body (the same reader
//     accepts it quoted) with no control byte, that decodes to the input
//     when it is valid UTF-8 within the cap, else to a cut prefix + "...";
//  L5 the syslog text has no byte below 0x20 and no 0x7f, at most
//     kMaxRecord bytes;
//  L6 ts is RFC 3339 UTC with microseconds for every time in years
//     1970-9999, naming exactly the given second and microsecond.
#include <time.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz.hpp"
#include "tmuxguard/decision_log.hpp"

namespace {

using tgfuzz::JsonValue;

constexpr std::size_t kSmallestCap = 48;  // decision_log.cpp's fallback cap

// A decimal from the numbers field, saturating; 0 when there is none.
long long number_take(std::string_view& s)
{
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    std::string token(s.substr(0, s.find(' ')));
    s.remove_prefix(token.size());
    errno = 0;
    return std::strtoll(token.c_str(), nullptr, 10);
}

void no_control_bytes(std::string_view s, std::string_view in)
{
    for (char c : s) {
        auto b = static_cast<unsigned char>(c);
        FUZZ_CHECK(b >= 0x20 && b != 0x7f, in);
    }
}

// L3/L4: how an escaped-and-decoded string relates to its valid UTF-8 input.
void decoded_check(const std::string& decoded, std::string_view input, std::size_t complete_up_to,
                   std::string_view in)
{
    if (!tgfuzz::utf8_is_valid(input))
        return;
    if (decoded == input)
        return;
    FUZZ_CHECK(input.size() > complete_up_to, in);
    FUZZ_CHECK(decoded.size() >= 3 && decoded.compare(decoded.size() - 3, 3, "...") == 0, in);
    std::string_view kept(decoded.data(), decoded.size() - 3);
    FUZZ_CHECK(input.substr(0, kept.size()) == kept, in);
    FUZZ_CHECK(kept.size() + 3 >= complete_up_to, in);
}

// L6: "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" naming `ts` exactly.
void timestamp_check(const std::string& text, const struct timespec& ts, std::string_view in)
{
    FUZZ_CHECK(text.size() == 27 && text[4] == '-' && text[7] == '-' && text[10] == 'T' &&
                   text[13] == ':' && text[16] == ':' && text[19] == '.' && text[26] == 'Z',
               text);
    struct tm t {};
    const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
    FUZZ_CHECK(end == text.c_str() + 19, text);
    FUZZ_CHECK(::timegm(&t) == ts.tv_sec, in);
    FUZZ_CHECK(std::strtol(text.c_str() + 20, nullptr, 10) == ts.tv_nsec / 1000, in);
}

const JsonValue* member(const JsonValue& obj, std::string_view key)
{
    for (const auto& m : obj.members)
        if (m.first == key)
            return &m.second;
    return nullptr;
}

void number_field_check(const JsonValue& obj, std::string_view key, long long value, std::string_view in)
{
    const JsonValue* v = member(obj, key);
    FUZZ_CHECK(v != nullptr, in);
    if (value < 0)
        FUZZ_CHECK(v->kind == JsonValue::Kind::null, in);
    else
        FUZZ_CHECK(v->kind == JsonValue::Kind::number && v->text == std::to_string(value), in);
}

void string_field_check(const JsonValue& obj, std::string_view key, const std::string& value,
                        bool optional, std::string_view in)
{
    const JsonValue* v = member(obj, key);
    FUZZ_CHECK(v != nullptr, in);
    if (optional && value.empty()) {
        FUZZ_CHECK(v->kind == JsonValue::Kind::null, in);
        return;
    }
    FUZZ_CHECK(v->kind == JsonValue::Kind::string, in);
    decoded_check(v->text, value, kSmallestCap, in);
}

// L1-L3 for one record.
void record_check(const tg::DecisionRecord& r, const struct timespec& ts, std::string_view in)
{
    const std::string line = tg::log_encode(r, ts);
    FUZZ_CHECK(!line.empty() && line.back() == '\n', in);
    FUZZ_CHECK(line.size() <= tg::kMaxRecord, in);
    const std::string_view body(line.data(), line.size() - 1);
    no_control_bytes(body, line);

    auto doc = tgfuzz::JsonReader(body).document();
    FUZZ_CHECK(doc.has_value(), line);
    FUZZ_CHECK(doc->kind == JsonValue::Kind::object, line);
    static const std::vector<std::string> kKeys{"ts",     "event",      "decision",   "reason",
                                                "uid",    "share",      "mode",       "owner_uid",
                                                "socket", "server_pid", "pid",        "tty",
                                                "session", "rule"};
    std::vector<std::string> keys;
    for (const auto& m : doc->members)
        keys.push_back(m.first);
    std::vector<std::string> want = kKeys;
    if (keys.size() == kKeys.size() + 1) {
        FUZZ_CHECK(!r.detail.empty(), line);
        want.emplace_back("detail");
    }
    FUZZ_CHECK(keys == want, line);

    const JsonValue* decision = member(*doc, "decision");
    FUZZ_CHECK(decision->kind == JsonValue::Kind::string &&
                   decision->text == (r.allow ? "allow" : "deny"),
               line);
    number_field_check(*doc, "uid", r.uid, line);
    number_field_check(*doc, "owner_uid", r.owner_uid, line);
    number_field_check(*doc, "server_pid", r.server_pid, line);
    number_field_check(*doc, "pid", r.pid, line);
    string_field_check(*doc, "event", r.event, false, line);
    string_field_check(*doc, "reason", r.reason, false, line);
    string_field_check(*doc, "share", r.share, false, line);
    string_field_check(*doc, "mode", r.mode, false, line);
    string_field_check(*doc, "socket", r.socket, true, line);
    string_field_check(*doc, "tty", r.tty, true, line);
    string_field_check(*doc, "session", r.session, true, line);
    string_field_check(*doc, "rule", r.rule, true, line);
    if (want.size() > kKeys.size())
        string_field_check(*doc, "detail", r.detail, false, line);

    const JsonValue* t = member(*doc, "ts");
    FUZZ_CHECK(t->kind == JsonValue::Kind::string, line);
    if (ts.tv_sec >= 0 && ts.tv_sec <= 253402300799 && ts.tv_nsec >= 0 && ts.tv_nsec <= 999'999'999)
        timestamp_check(t->text, ts, in);
}

// L4 for one string and cap.
void escape_check(std::string_view s, std::size_t cap, std::string_view in)
{
    const std::string body = tg::json_escape(s, cap);
    no_control_bytes(body, in);
    FUZZ_CHECK(body.size() <= 6 * std::min(s.size(), cap) + 3, in);
    auto doc = tgfuzz::JsonReader("\"" + body + "\"").document();
    FUZZ_CHECK(doc && doc->kind == JsonValue::Kind::string, body);
    decoded_check(doc->text, s, cap, in);
    if (tgfuzz::utf8_is_valid(s) && s.size() <= cap)
        FUZZ_CHECK(doc->text == s, in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::vector<std::string_view> f = tgfuzz::fields_split(in, '\0', 10);
    auto field = [&](std::size_t i) { return i < f.size() ? std::string(f[i]) : std::string(); };

    tg::DecisionRecord r;
    r.event = field(0);
    r.reason = field(1);
    r.share = field(2);
    r.mode = field(3);
    r.socket = field(4);
    r.tty = field(5);
    r.session = field(6);
    r.rule = field(7);
    r.detail = field(8);
    std::string_view numbers = f.size() > 9 ? f[9] : std::string_view();
    r.allow = (number_take(numbers) & 1) != 0;
    r.uid = number_take(numbers);
    r.owner_uid = number_take(numbers);
    r.server_pid = number_take(numbers);
    r.pid = number_take(numbers);
    struct timespec ts {};
    ts.tv_sec = static_cast<time_t>(number_take(numbers));
    ts.tv_nsec = static_cast<long>(number_take(numbers));
    const long long cap = number_take(numbers);

    record_check(r, ts, in);

    const std::string syslog_text = tg::log_syslog_format(r);
    no_control_bytes(syslog_text, in);
    FUZZ_CHECK(syslog_text.size() <= tg::kMaxRecord, in);

    for (std::size_t i = 0; i < f.size() && i < 9; ++i) {
        escape_check(f[i], tg::kMaxField, in);
        escape_check(f[i], static_cast<std::size_t>(cap < 0 ? -(cap + 1) : cap) % 300, in);
    }
    return 0;
}
