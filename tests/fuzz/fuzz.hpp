// Helpers shared by the fuzz targets: splitting an input into fields, a
// failure that libFuzzer records as a crash with the reason printed, a name
// service from a table, and a strict JSON reader.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/compiled.hpp"

namespace tgfuzz {

// A property that did not hold: print it with the input's context and abort,
// which libFuzzer reports as a crash and saves the input as an artifact.
[[noreturn]] inline void property_fail(const char* what, std::string_view context = {})
{
    std::fprintf(stderr, "\nPROPERTY FAILED: %s\n", what);
    if (!context.empty()) {
        std::string shown;
        for (char c : context.substr(0, 2000)) {
            auto b = static_cast<unsigned char>(c);
            if (b == '\n' || (b >= 0x20 && b < 0x7f && b != '\\')) {
                shown += c;
            } else {
                char hex[8];
                std::snprintf(hex, sizeof hex, "\\x%02x", b);
                shown += hex;
            }
        }
        std::fprintf(stderr, "context (%zu bytes, escaped):\n%s\n", context.size(), shown.c_str());
    }
    std::abort();
}

#define FUZZ_CHECK(cond, context)                                     \
    do {                                                              \
        if (!(cond))                                                  \
            ::tgfuzz::property_fail(#cond " (" __FILE__ ")", context); \
    } while (0)

// The input as `sep`-separated fields (a trailing separator gives an empty
// last field), at most `max` of them: the rest stays in the last.
inline std::vector<std::string_view> fields_split(std::string_view in, char sep, std::size_t max)
{
    std::vector<std::string_view> out;
    while (out.size() + 1 < max) {
        std::size_t at = in.find(sep);
        if (at == std::string_view::npos)
            break;
        out.push_back(in.substr(0, at));
        in.remove_prefix(at + 1);
    }
    out.push_back(in);
    return out;
}

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), written here independently of the
// library's own check.
inline bool utf8_is_valid(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp = 0;
        std::size_t len = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            cp = c & 0x1f;
            len = 2;
        } else if ((c & 0xf0) == 0xe0) {
            cp = c & 0x0f;
            len = 3;
        } else if ((c & 0xf8) == 0xf0) {
            cp = c & 0x07;
            len = 4;
        } else {
            return false;
        }
        if (s.size() - i < len)
            return false;
        for (std::size_t k = 1; k < len; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

// A JSON value as the strict reader returns it: strings decoded to UTF-8,
// numbers kept as their text, objects as members in document order.
struct JsonValue {
    enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
    bool boolean = false;
    std::string text;  // number text or decoded string
    std::vector<JsonValue> items;
    std::vector<std::pair<std::string, JsonValue>> members;
};

// RFC 8259, strictly: one value with optional blanks around it, no trailing
// commas, no leading zeros, strings of valid UTF-8 with no raw byte below
// 0x20, escapes limited to the eight short ones and \uXXXX with surrogates
// only in valid pairs, duplicate object keys refused, depth bounded.
class JsonReader {
public:
    explicit JsonReader(std::string_view text) : s_(text) {}

    // The document's value, or nullopt when it is not exactly one JSON text.
    std::optional<JsonValue> document()
    {
        if (!utf8_is_valid(s_))
            return std::nullopt;
        JsonValue v;
        blanks_skip();
        if (!value_read(v, 0))
            return std::nullopt;
        blanks_skip();
        if (i_ != s_.size())
            return std::nullopt;
        return v;
    }

private:
    static constexpr int kMaxDepth = 64;

    void blanks_skip()
    {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
            ++i_;
    }
    bool literal_read(std::string_view word)
    {
        if (s_.substr(i_, word.size()) != word)
            return false;
        i_ += word.size();
        return true;
    }
    bool digits_read()
    {
        std::size_t start = i_;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
            ++i_;
        return i_ > start;
    }
    bool number_read(JsonValue& v)
    {
        std::size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-')
            ++i_;
        if (i_ < s_.size() && s_[i_] == '0')
            ++i_;
        else if (!digits_read())
            return false;
        if (i_ < s_.size() && s_[i_] == '.') {
            ++i_;
            if (!digits_read())
                return false;
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'))
                ++i_;
            if (!digits_read())
                return false;
        }
        v.kind = JsonValue::Kind::number;
        v.text = std::string(s_.substr(start, i_ - start));
        return true;
    }
    bool hex4_read(std::uint32_t& out)
    {
        if (s_.size() - i_ < 4)
            return false;
        out = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[i_++];
            int d = c >= '0' && c <= '9' ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
            if (d < 0)
                return false;
            out = out * 16 + static_cast<std::uint32_t>(d);
        }
        return true;
    }
    static void utf8_append(std::string& out, std::uint32_t cp)
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
    bool escape_read(std::string& out)
    {
        if (i_ >= s_.size())
            return false;
        char c = s_[i_++];
        static constexpr std::string_view from = "\"\\/bfnrt";
        static constexpr std::string_view to = "\"\\/\b\f\n\r\t";
        if (std::size_t k = from.find(c); k != std::string_view::npos) {
            out += to[k];
            return true;
        }
        if (c != 'u')
            return false;
        std::uint32_t cp = 0;
        if (!hex4_read(cp))
            return false;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return false;  // a low surrogate on its own
        if (cp >= 0xd800 && cp <= 0xdbff) {
            std::uint32_t lo = 0;
            if (!literal_read("\\u") || !hex4_read(lo) || lo < 0xdc00 || lo > 0xdfff)
                return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        utf8_append(out, cp);
        return true;
    }
    bool string_read(std::string& out)
    {
        if (!literal_read("\""))
            return false;
        while (i_ < s_.size()) {
            auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                ++i_;
                return true;
            }
            if (c < 0x20)
                return false;
            ++i_;
            if (c == '\\') {
                if (!escape_read(out))
                    return false;
            } else {
                out += static_cast<char>(c);
            }
        }
        return false;
    }
    bool array_read(JsonValue& v, int depth)
    {
        v.kind = JsonValue::Kind::array;
        ++i_;
        blanks_skip();
        if (literal_read("]"))
            return true;
        for (;;) {
            JsonValue item;
            blanks_skip();
            if (!value_read(item, depth + 1))
                return false;
            v.items.push_back(std::move(item));
            blanks_skip();
            if (literal_read("]"))
                return true;
            if (!literal_read(","))
                return false;
        }
    }
    bool object_read(JsonValue& v, int depth)
    {
        v.kind = JsonValue::Kind::object;
        ++i_;
        blanks_skip();
        if (literal_read("}"))
            return true;
        for (;;) {
            std::string key;
            JsonValue item;
            blanks_skip();
            if (!string_read(key))
                return false;
            for (const auto& m : v.members)
                if (m.first == key)
                    return false;
            blanks_skip();
            if (!literal_read(":"))
                return false;
            blanks_skip();
            if (!value_read(item, depth + 1))
                return false;
            v.members.emplace_back(std::move(key), std::move(item));
            blanks_skip();
            if (literal_read("}"))
                return true;
            if (!literal_read(","))
                return false;
        }
    }
    bool value_read(JsonValue& v, int depth)
    {
        if (depth > kMaxDepth || i_ >= s_.size())
            return false;
        switch (s_[i_]) {
        case '{':
            return object_read(v, depth);
        case '[':
            return array_read(v, depth);
        case '"':
            v.kind = JsonValue::Kind::string;
            return string_read(v.text);
        case 't':
            v.kind = JsonValue::Kind::boolean;
            v.boolean = true;
            return literal_read("true");
        case 'f':
            v.kind = JsonValue::Kind::boolean;
            return literal_read("false");
        case 'n':
            v.kind = JsonValue::Kind::null;
            return literal_read("null");
        default:
            return number_read(v);
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

// A name service for compile: a few fixed names, and any "uN" / "gN" (N a
// decimal uint32) as uid / gid N, so the fuzzer reaches every id, 0 and
// (uid_t)-1 included. Account facts by uid come in a few shapes: usable,
// a home with a blank, a shell with an escape byte, none at all.
class TableResolver : public tg::Resolver {
public:
    std::optional<uid_t> user_id(const std::string& name) override
    {
        static const std::map<std::string, uid_t> fixed = {
            {"root", 0}, {"alice", 1000}, {"bob", 1001}, {"carol", 1002}, {"svc-deploy", 1500}};
        if (auto it = fixed.find(name); it != fixed.end())
            return it->second;
        return number_after(name, 'u');
    }
    std::optional<gid_t> group_id(const std::string& name) override
    {
        static const std::map<std::string, gid_t> fixed = {{"root", 0}, {"ops", 2000}, {"devs", 2001}};
        if (auto it = fixed.find(name); it != fixed.end())
            return it->second;
        return number_after(name, 'g');
    }
    std::optional<tg::AccountInfo> account(uid_t uid) override
    {
        std::string name = "u" + std::to_string(uid);
        switch (uid % 5) {
        case 1:
            return tg::AccountInfo{uid, name, "/home/with blank", "/bin/sh"};
        case 2:
            return tg::AccountInfo{uid, name, "/home/" + name, "/bin/sh\x1b[0m"};
        case 3:
            return std::nullopt;
        default:
            return tg::AccountInfo{uid, name, "/home/" + name, "/bin/bash"};
        }
    }

private:
    static std::optional<std::uint32_t> number_after(const std::string& name, char prefix)
    {
        if (name.size() < 2 || name.size() > 11 || name[0] != prefix)
            return std::nullopt;
        std::uint64_t v = 0;
        for (char c : name.substr(1)) {
            if (c < '0' || c > '9')
                return std::nullopt;
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (v > 0xffffffffULL)
            return std::nullopt;
        return static_cast<std::uint32_t>(v);
    }
};

// Every fuzz target runs with local time UTC, so results do not depend on
// the machine's zone.
inline void timezone_fix()
{
    static const bool done = [] {
        ::setenv("TZ", "UTC", 1);
        ::tzset();
        return true;
    }();
    (void)done;
}

}  // namespace tgfuzz
