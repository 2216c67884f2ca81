// Validation of names and values that cross a trust boundary (names.hpp).
// Every function is a plain loop over bytes: no locale, no regex, total.
#include "tmuxguard/names.hpp"

#include <climits>

namespace tg {

namespace {

bool char_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// True when s is 1..max_len bytes, the first byte is alphanumeric (or in
// `first_extra`), and every other byte is alphanumeric or in `rest_extra`.
bool name_matches(std::string_view s, std::size_t max_len, std::string_view first_extra,
                  std::string_view rest_extra)
{
    if (s.empty() || s.size() > max_len)
        return false;
    if (!char_is_alnum(s[0]) && first_extra.find(s[0]) == std::string_view::npos)
        return false;
    for (char c : s.substr(1)) {
        if (!char_is_alnum(c) && rest_extra.find(c) == std::string_view::npos)
            return false;
    }
    return true;
}

bool byte_is_blank_or_control(char c)
{
    auto b = static_cast<unsigned char>(c);
    return b <= 0x20 || b == 0x7f;
}

}  // namespace

// Share names: [A-Za-z0-9][A-Za-z0-9._-]{0,63}
bool name_is_valid_share(std::string_view s)
{
    return name_matches(s, kMaxNameLen, "", "._-");
}

// Session names: [A-Za-z0-9][A-Za-z0-9_-]{0,63}
bool name_is_valid_session(std::string_view s)
{
    return name_matches(s, kMaxNameLen, "", "_-");
}

// The share name with every '.' turned into '_' (what tmux would do).
std::string name_default_session(std::string_view share)
{
    std::string out(share);
    for (char& c : out) {
        if (c == '.')
            c = '_';
    }
    return out;
}

// Account and group names: [A-Za-z0-9_][A-Za-z0-9_.-]{0,31}[$]?
bool name_is_valid_account(std::string_view s)
{
    if (!s.empty() && s.back() == '$')
        s.remove_suffix(1);
    return name_matches(s, 32, "_", "_.-");
}

// TERM: [A-Za-z0-9][A-Za-z0-9._+-]{0,63}
bool name_is_valid_term(std::string_view s)
{
    return name_matches(s, kMaxNameLen, "", "._+-");
}

// LANG / LC_*: [A-Za-z0-9_.@-]{1,64}, at most one '.' and one '@'.
bool name_is_valid_locale(std::string_view s)
{
    if (!name_matches(s, kMaxNameLen, "_.@-", "_.@-"))
        return false;
    std::size_t dots = 0;
    std::size_t ats = 0;
    for (char c : s) {
        dots += c == '.' ? 1 : 0;
        ats += c == '@' ? 1 : 0;
    }
    return dots <= 1 && ats <= 1;
}

// Absolute, no "." / ".." / empty components (so no "//" and no trailing
// '/', except "/" itself), no blank or control byte, shorter than PATH_MAX.
bool name_is_clean_abs_path(std::string_view s)
{
    if (s.empty() || s[0] != '/' || s.size() >= PATH_MAX)
        return false;
    if (s == "/")
        return true;
    std::size_t pos = 1;
    while (pos <= s.size()) {
        std::size_t end = s.find('/', pos);
        if (end == std::string_view::npos)
            end = s.size();
        std::string_view comp = s.substr(pos, end - pos);
        if (comp.empty() || comp == "." || comp == "..")
            return false;
        for (char c : comp) {
            if (byte_is_blank_or_control(c))
                return false;
        }
        pos = end + 1;
    }
    return true;
}

// Control bytes, every byte >= 0x7f and the backslash itself become \xNN
// (so no C0, DEL or C1 control, raw or UTF-8 encoded, reaches root's
// terminal or a log, and a literal "\x1b" cannot pass for an escaped ESC);
// other printable ASCII is kept. Names are ASCII by policy anyway.
std::string text_safe(std::string_view s)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            out += "\\x";
            out += kHex[c >> 4U];
            out += kHex[c & 0xfU];
        } else {
            out += ch;
        }
    }
    return out;
}

// One to four bytes by the code point's size.
bool utf8_append(std::string& out, std::uint32_t cp)
{
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
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
    return true;
}

}  // namespace tg
