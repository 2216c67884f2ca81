// The decision log as the tests read it: flat JSON objects, one per line.
#include <fstream>
#include <sstream>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace {

// A strict reader for one flat JSON object: strings, numbers, true, false,
// null; no nesting, nothing after the closing brace.
class FlatJson {
public:
    explicit FlatJson(std::string_view s) : s_(s) {}

    std::optional<std::map<std::string, JsonValue>> object()
    {
        std::map<std::string, JsonValue> out;
        if (!eat('{'))
            return std::nullopt;
        if (eat('}'))
            return done() ? std::optional(out) : std::nullopt;
        do {
            std::string key;
            JsonValue v;
            if (!string(key) || !eat(':') || !value(v) || out.count(key) != 0)
                return std::nullopt;
            out.emplace(std::move(key), std::move(v));
        } while (eat(','));
        if (!eat('}') || !done())
            return std::nullopt;
        return out;
    }

private:
    void blanks()
    {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t'))
            ++i_;
    }
    bool eat(char c)
    {
        blanks();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool done()
    {
        blanks();
        return i_ == s_.size();
    }
    bool literal(std::string_view word, JsonValue& v, JsonValue::Kind kind)
    {
        if (s_.substr(i_, word.size()) != word)
            return false;
        i_ += word.size();
        v = {kind, std::string(word)};
        return true;
    }
    bool number(JsonValue& v)
    {
        std::size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-')
            ++i_;
        while (i_ < s_.size() && ((s_[i_] >= '0' && s_[i_] <= '9') || s_[i_] == '.' ||
                                  s_[i_] == 'e' || s_[i_] == 'E' || s_[i_] == '+'))
            ++i_;
        v = {JsonValue::Kind::number, std::string(s_.substr(start, i_ - start))};
        return i_ > start && v.text != "-";
    }
    bool value(JsonValue& v)
    {
        blanks();
        if (i_ >= s_.size())
            return false;
        switch (s_[i_]) {
        case '"': v.kind = JsonValue::Kind::string; return string(v.text);
        case 't': return literal("true", v, JsonValue::Kind::boolean);
        case 'f': return literal("false", v, JsonValue::Kind::boolean);
        case 'n': return literal("null", v, JsonValue::Kind::null);
        default: return number(v);
        }
    }
    bool escape(std::string& out)
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
        if (c != 'u' || i_ + 4 > s_.size())
            return false;
        unsigned code = 0;
        for (int k = 0; k < 4; ++k) {
            char h = s_[i_++];
            unsigned d = (h >= '0' && h <= '9')   ? unsigned(h - '0')
                         : (h >= 'a' && h <= 'f') ? unsigned(h - 'a' + 10)
                         : (h >= 'A' && h <= 'F') ? unsigned(h - 'A' + 10)
                                                  : 16u;
            if (d == 16)
                return false;
            code = code * 16 + d;
        }
        out += code < 0x80 ? static_cast<char>(code) : '?';  // tests compare ASCII only
        return true;
    }
    bool string(std::string& out)
    {
        blanks();
        if (i_ >= s_.size() || s_[i_] != '"')
            return false;
        ++i_;
        while (i_ < s_.size()) {
            auto c = static_cast<unsigned char>(s_[i_++]);
            if (c == '"')
                return true;
            if (c < 0x20 || c == 0x7f)
                return false;
            if (c == '\\') {
                if (!escape(out))
                    return false;
            } else {
                out += static_cast<char>(c);
            }
        }
        return false;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

}  // namespace

std::optional<std::map<std::string, JsonValue>> json_parse_flat(std::string_view line)
{
    return FlatJson(line).object();
}

std::string Record::get(const std::string& key) const
{
    auto it = fields.find(key);
    if (it == fields.end())
        return "<missing>";
    return it->second.text;
}

std::vector<std::string> log_lines()
{
    std::ifstream f(tg::paths::default_log, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return split_lines(ss.str());
}

LogMark log_mark()
{
    return LogMark{log_lines().size()};
}

std::vector<std::string> log_lines_since(LogMark m)
{
    std::vector<std::string> all = log_lines();
    if (all.size() <= m.lines)
        return {};
    return {all.begin() + static_cast<std::ptrdiff_t>(m.lines), all.end()};
}

std::optional<Record> log_wait_record(LogMark m, const std::function<bool(const Record&)>& pred)
{
    std::optional<Record> found;
    (void)wait_until([&] {
        for (const auto& line : log_lines_since(m)) {
            auto fields = json_parse_flat(line);
            if (!fields)
                continue;
            Record r{std::move(*fields), line};
            if (pred(r)) {
                found = std::move(r);
                return true;
            }
        }
        return false;
    });
    return found;
}

std::optional<Record> log_record_of(LogMark m, pid_t pid)
{
    const std::string want = std::to_string(pid);
    return log_wait_record(m, [&](const Record& r) { return r.get("pid") == want; });
}

}  // namespace tge2e
