// The compiled policy: compile (names -> numbers), serialize, and the strict
// parser the setgid wrapper runs on every attach.
//
// Contract for compiled_parse():
//  1. the first line is exactly "tmuxguard-compiled 1", the last "end", and
//     every line ends in '\n': anything else (a truncated file) is refused;
//  2. an unknown record, a wrong field count, an empty field, a number that
//     std::from_chars does not consume whole or that is out of range, a name
//     that fails names.hpp, or a path that is not clean and absolute is
//     refused (reason "policy-invalid");
//  3. with `only_share`, only the records for that share, for "*" and for
//     `only_uid` are read: they are found by bisecting the sorted block
//     (below), so the cost does not grow with rules about other shares;
//  4. without a filter every line is checked, including that the sorted
//     block is in byte order (so a writer bug cannot hide a rule from the
//     bisecting reader unnoticed by `tmuxguard reload`'s own re-read).
//
// Layout: header, the singleton records, `file` and `invalid` records, then
// the sorted block: every `rule`, `share` and `user` line in byte order (so
// all lines of one share, of "*", or of one uid are adjacent), then "end".
// Rules carry their FILE:LINE; readers restore file order by sorting on it.
#include "tmuxguard/compiled.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <map>

#include "tmuxguard/names.hpp"

namespace tg {

namespace {

constexpr std::string_view kHeader = "tmuxguard-compiled 1";
constexpr std::uint32_t kMaxId = std::numeric_limits<std::uint32_t>::max() - 1;  // not (uid_t)-1

// ---- compile ----------------------------------------------------------------

// A user the policy names, where it first names it.
struct Mention {
    uid_t uid;
    std::string name;
    std::string_view file;
    int line;
};

struct CompileState {
    Policy& p;
    Resolver& r;
    CompiledPolicy& c;
    std::vector<Mention> accounts;  // first-mention order, one per uid
    std::map<std::string, std::uint32_t> file_index;
};

std::optional<uid_t> compile_user(CompileState& s, const std::string& name, std::string_view file,
                                  int line)
{
    std::optional<uid_t> uid = s.r.user_id(name);
    if (!uid || *uid > kMaxId) {
        policy_error_add(s.p, file, line, "unknown user " + policy_quote(name));
        return std::nullopt;
    }
    bool known = false;
    for (const Mention& m : s.accounts)
        known = known || m.uid == *uid;
    if (!known)
        s.accounts.push_back(Mention{*uid, name, file, line});
    return uid;
}

// RUNTIME-DIR/UID/NAME, without a doubled '/' when RUNTIME-DIR is "/".
std::string compile_default_socket(const std::string& runtime_dir, uid_t uid,
                                   const std::string& name)
{
    std::string dir = runtime_dir == "/" ? std::string() : runtime_dir;
    return dir + "/" + std::to_string(uid) + "/" + name;
}

void compile_files(CompileState& s)
{
    s.c.files = s.p.files;
    for (std::size_t i = 0; i < s.c.files.size(); ++i) {
        if (!name_is_clean_abs_path(s.c.files[i]))
            policy_error_add(s.p, s.c.files[i], 0, "policy file path must be absolute and clean");
        s.file_index.emplace(s.c.files[i], static_cast<std::uint32_t>(i));
    }
}

void compile_shares(CompileState& s)
{
    // Two explicit sockets that clash are policy_check_whole()'s to report;
    // here only clashes that involve an expanded default socket.
    std::map<std::string, const ShareDef*> all_sockets;
    for (const ShareDef& d : s.p.shares) {
        std::optional<uid_t> uid = compile_user(s, d.owner, d.file, d.line);
        if (!uid)
            continue;
        std::string socket = d.socket.empty()
                                 ? compile_default_socket(s.c.runtime_dir, *uid, d.name)
                                 : d.socket;
        auto [it, fresh] = all_sockets.emplace(socket, &d);
        if (!fresh && (d.socket.empty() || it->second->socket.empty()))
            policy_error_add(s.p, d.file, d.line,
                             "share " + policy_quote(d.name) + " uses the socket of share " +
                                 policy_quote(it->second->name));
        s.c.shares.push_back(CompiledShare{d.name, *uid, std::move(socket)});
    }
}

std::optional<std::uint32_t> compile_who(CompileState& s, const Rule& rule)
{
    if (rule.who_kind == WhoKind::any)
        return 0;
    if (rule.who_kind == WhoKind::user)
        return compile_user(s, rule.who, rule.file, rule.line);
    std::optional<gid_t> gid = s.r.group_id(rule.who);
    if (!gid || *gid > kMaxId) {
        policy_error_add(s.p, rule.file, rule.line, "unknown group " + policy_quote(rule.who));
        return std::nullopt;
    }
    return *gid;
}

// `until` as epoch seconds; 0 is "no until" in the compiled form, so a time
// that lands exactly on the epoch becomes -1 (equally long past).
std::optional<std::int64_t> compile_until(CompileState& s, const Rule& rule)
{
    if (rule.when.until_text.empty())
        return 0;
    std::int64_t epoch = 0;
    if (!policy_parse_local_time(rule.when.until_text, epoch)) {
        policy_error_add(s.p, rule.file, rule.line,
                         "until " + policy_quote(rule.when.until_text) +
                             " is not a valid date and time");
        return std::nullopt;
    }
    return epoch == 0 ? -1 : epoch;
}

void compile_rules(CompileState& s)
{
    for (const Rule& rule : s.p.rules) {
        std::optional<std::uint32_t> id = compile_who(s, rule);
        std::optional<std::int64_t> until = compile_until(s, rule);
        if (!id || !until)
            continue;
        CompiledRule cr;
        cr.share = rule.share;
        cr.kind = rule.kind;
        cr.mode = rule.kind == RuleKind::permit ? rule.mode : Mode::none;
        cr.who_kind = rule.who_kind;
        cr.id = *id;
        cr.minute_from = rule.when.minute_from;
        cr.minute_to = rule.when.minute_to;
        cr.days = rule.when.days;
        cr.until = *until;
        auto fi = s.file_index.find(rule.file);
        cr.file_index = fi != s.file_index.end() ? fi->second
                                                 : static_cast<std::uint32_t>(s.c.files.size());
        cr.line = static_cast<std::uint32_t>(rule.line);
        s.c.rules.push_back(std::move(cr));
    }
}

bool text_has_blank_or_control(std::string_view v)
{
    for (char c : v) {
        auto b = static_cast<unsigned char>(c);
        if (b <= 0x20 || b == 0x7f)
            return true;
    }
    return false;
}

// Account facts for every uid the policy named; a home or shell that could
// not travel in one field is replaced by "/" or "/bin/sh".
void compile_accounts(CompileState& s)
{
    for (const Mention& m : s.accounts) {
        std::optional<AccountInfo> a = s.r.account(m.uid);
        if (!a) {
            policy_error_add(s.p, m.file, m.line, "no account entry for user " + policy_quote(m.name));
            continue;
        }
        a->uid = m.uid;
        if (!name_is_valid_account(a->name))
            a->name = m.name;
        if (a->home.empty() || text_has_blank_or_control(a->home))
            a->home = "/";
        if (a->shell.empty() || text_has_blank_or_control(a->shell))
            a->shell = "/bin/sh";
        s.c.users.push_back(std::move(*a));
    }
}

// ---- serialize --------------------------------------------------------------

// Escapes `invalid` so it is one field: "\\" for '\', "\xNN" for blanks,
// control bytes and bytes >= 0x7f.
std::string message_escape(std::string_view m)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (char c : m) {
        auto b = static_cast<unsigned char>(c);
        if (c == '\\') {
            out += "\\\\";
        } else if (b <= 0x20 || b >= 0x7f) {
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

std::string_view kind_name(RuleKind k)
{
    return k == RuleKind::permit ? "permit" : "deny";
}

std::string_view who_kind_name(WhoKind w)
{
    return w == WhoKind::group ? "group" : w == WhoKind::any ? "any" : "user";
}

void rule_serialize(std::string& out, const CompiledRule& r)
{
    out += "rule " + r.share + " ";
    out += kind_name(r.kind);
    out += ' ';
    out += mode_name(r.mode);
    out += ' ';
    out += who_kind_name(r.who_kind);
    out += ' ' + std::to_string(r.id) + ' ' + std::to_string(r.minute_from) + ' ' +
           std::to_string(r.minute_to) + ' ' + std::to_string(r.days) + ' ' +
           std::to_string(r.until) + ' ' + std::to_string(r.file_index) + ' ' +
           std::to_string(r.line) + '\n';
}

// ---- parse ------------------------------------------------------------------

constexpr std::size_t kMaxFields = 12;

struct Fields {
    std::array<std::string_view, kMaxFields> v;
    std::size_t n = 0;
};

// Splits on single spaces; false on an empty field or too many fields.
bool fields_split(std::string_view line, Fields& f)
{
    f.n = 0;
    std::size_t pos = 0;
    for (;;) {
        std::size_t sp = line.find(' ', pos);
        std::string_view field = line.substr(pos, sp == std::string_view::npos ? line.npos : sp - pos);
        if (field.empty() || f.n == kMaxFields)
            return false;
        f.v[f.n++] = field;
        if (sp == std::string_view::npos)
            return true;
        pos = sp + 1;
    }
}

// A whole-field decimal number within [lo, hi], spelled as
// compiled_serialize() spells it: no leading zero, no "-0". One value has one
// spelling, so two files that differ in bytes never mean the same policy.
template <class T>
bool number_parse(std::string_view s, T lo, T hi, T& out)
{
    T v{};
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v < lo || v > hi)
        return false;
    std::string_view digits = s.substr(s.starts_with('-') ? 1 : 0);
    if ((digits.size() > 1 && digits.front() == '0') || s == "-0")
        return false;
    out = v;
    return true;
}

bool id_parse(std::string_view s, std::uint32_t& out)
{
    return number_parse<std::uint32_t>(s, 0, kMaxId, out);
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool byte_is_control(unsigned char b)
{
    return b < 0x20 || b == 0x7f;
}

// Reverses message_escape(); refuses any other escape and any control byte,
// raw or escaped.
bool message_unescape(std::string_view s, std::string& out)
{
    out.clear();
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            if (byte_is_control(static_cast<unsigned char>(s[i])))
                return false;
            out += s[i];
            continue;
        }
        if (i + 1 < s.size() && s[i + 1] == '\\') {
            out += '\\';
            ++i;
            continue;
        }
        if (i + 3 >= s.size() || s[i + 1] != 'x' || hex_value(s[i + 2]) < 0 ||
            hex_value(s[i + 3]) < 0)
            return false;
        auto b = static_cast<unsigned char>(hex_value(s[i + 2]) * 16 + hex_value(s[i + 3]));
        if (byte_is_control(b))
            return false;
        out += static_cast<char>(b);
        i += 3;
    }
    return !out.empty();
}

bool mode_parse(std::string_view s, Mode& m)
{
    for (Mode c : {Mode::none, Mode::view, Mode::interact}) {
        if (mode_name(c) == s) {
            m = c;
            return true;
        }
    }
    return false;
}

bool kind_parse(std::string_view s, RuleKind& k)
{
    for (RuleKind c : {RuleKind::deny, RuleKind::permit}) {
        if (kind_name(c) == s) {
            k = c;
            return true;
        }
    }
    return false;
}

bool who_kind_parse(std::string_view s, WhoKind& w)
{
    for (WhoKind c : {WhoKind::user, WhoKind::group, WhoKind::any}) {
        if (who_kind_name(c) == s) {
            w = c;
            return true;
        }
    }
    return false;
}

// The combinations compile can produce: a permit grants view or interact;
// a deny grants nothing and has no time conditions; `any` has ID 0; hours
// come as a pair with from != to.
bool rule_is_consistent(const CompiledRule& r)
{
    bool has_hours = r.minute_from >= 0;
    if ((r.minute_to >= 0) != has_hours || (has_hours && r.minute_from == r.minute_to))
        return false;
    if (r.who_kind == WhoKind::any && r.id != 0)
        return false;
    if (r.kind == RuleKind::deny)
        return r.mode == Mode::none && !has_hours && r.days == 0 && r.until == 0;
    return r.mode != Mode::none;
}

// rule SHARE KIND MODE WHO ID FROM TO DAYS UNTIL FILEIDX LINE
bool rule_parse(const Fields& f, CompiledRule& r)
{
    if (f.n != 12 || (f.v[1] != "*" && !name_is_valid_share(f.v[1])))
        return false;
    r.share = std::string(f.v[1]);
    return kind_parse(f.v[2], r.kind) && mode_parse(f.v[3], r.mode) &&
           who_kind_parse(f.v[4], r.who_kind) && id_parse(f.v[5], r.id) &&
           number_parse(f.v[6], -1, 1439, r.minute_from) &&
           number_parse(f.v[7], -1, 1440, r.minute_to) &&
           number_parse<std::uint8_t>(f.v[8], 0, 127, r.days) &&
           number_parse(f.v[9], std::numeric_limits<std::int64_t>::min(),
                        std::numeric_limits<std::int64_t>::max(), r.until) &&
           number_parse<std::uint32_t>(f.v[10], 0, kMaxId, r.file_index) &&
           number_parse<std::uint32_t>(f.v[11], 1, kMaxId, r.line) && rule_is_consistent(r);
}

enum Singleton : unsigned { kGate = 1, kLog = 2, kSyslog = 4, kTmux = 8, kRuntime = 16 };
constexpr unsigned kAllSingletons = kGate | kLog | kSyslog | kTmux | kRuntime;

struct ParseState {
    CompiledPolicy c;
    unsigned seen = 0;
};

// rule, share and user records live in the sorted block.
bool line_is_block(std::string_view line)
{
    return line.starts_with("rule ") || line.starts_with("share ") || line.starts_with("user ");
}

// A record that may appear once: gate, log, syslog, tmux, runtime-dir.
bool singleton_parse(ParseState& st, const Fields& f, unsigned bit)
{
    if (f.n != 2 || (st.seen & bit) != 0)
        return false;
    st.seen |= bit;
    std::string_view v = f.v[1];
    switch (bit) {
    case kGate:
        return id_parse(v, st.c.gate_gid);
    case kSyslog:
        st.c.syslog = v == "1";
        return v == "0" || v == "1";
    default:
        break;
    }
    std::string& target = bit == kLog ? st.c.log : bit == kTmux ? st.c.tmux : st.c.runtime_dir;
    target = std::string(v);
    return name_is_clean_abs_path(v);
}

// user UID NAME HOME SHELL
bool user_parse(ParseState& st, const Fields& f)
{
    AccountInfo a;
    if (f.n != 5 || !id_parse(f.v[1], a.uid) || !name_is_valid_account(f.v[2]) ||
        text_has_blank_or_control(f.v[3]) || text_has_blank_or_control(f.v[4]))
        return false;
    a.name = std::string(f.v[2]);
    a.home = std::string(f.v[3]);
    a.shell = std::string(f.v[4]);
    st.c.users.push_back(std::move(a));
    return true;
}

// share NAME OWNER_UID SOCKET
bool share_parse(ParseState& st, const Fields& f)
{
    CompiledShare s;
    if (f.n != 4 || !name_is_valid_share(f.v[1]) || !id_parse(f.v[2], s.owner_uid) ||
        !name_is_clean_abs_path(f.v[3]))
        return false;
    s.name = std::string(f.v[1]);
    s.socket = std::string(f.v[3]);
    st.c.shares.push_back(std::move(s));
    return true;
}

// file IDX PATH (indexes count up from 0) and invalid MESSAGE.
bool file_or_invalid_parse(ParseState& st, const Fields& f)
{
    if (f.v[0] == "invalid")
        return f.n == 2 && st.c.invalid.empty() && message_unescape(f.v[1], st.c.invalid);
    std::uint32_t idx = 0;
    if (f.n != 3 || !id_parse(f.v[1], idx) || idx != st.c.files.size() ||
        !name_is_clean_abs_path(f.v[2]))
        return false;
    st.c.files.emplace_back(f.v[2]);
    return true;
}

// One record line other than the header and "end".
bool record_parse(ParseState& st, std::string_view line)
{
    Fields f;
    if (!fields_split(line, f))
        return false;
    std::string_view k = f.v[0];
    if (k == "rule") {
        CompiledRule r;
        if (!rule_parse(f, r))
            return false;
        st.c.rules.push_back(std::move(r));
        return true;
    }
    if (k == "share")
        return share_parse(st, f);
    if (k == "user")
        return user_parse(st, f);
    if (k == "file" || k == "invalid")
        return file_or_invalid_parse(st, f);
    unsigned bit = k == "gate" ? kGate : k == "log" ? kLog : k == "syslog" ? kSyslog
                 : k == "tmux" ? kTmux : k == "runtime-dir" ? kRuntime : 0u;
    return bit != 0 && singleton_parse(st, f, bit);
}

std::unexpected<Error> parse_fail(std::size_t line_no, const std::string& what)
{
    return fail("policy-invalid", 0, "compiled policy", "line " + std::to_string(line_no) + ": " + what);
}

// After "end": every singleton seen, every kept rule's file index in range,
// rules back in file order (the block holds them in byte order).
Result<void> parse_finish(ParseState& st, std::size_t line_no)
{
    std::sort(st.c.rules.begin(), st.c.rules.end(), [](const CompiledRule& a, const CompiledRule& b) {
        return a.file_index != b.file_index ? a.file_index < b.file_index : a.line < b.line;
    });
    if (st.seen != kAllSingletons)
        return parse_fail(line_no, "missing gate, log, syslog, tmux or runtime-dir record");
    for (const CompiledRule& r : st.c.rules) {
        if (r.file_index >= st.c.files.size())
            return parse_fail(line_no, "rule names file " + std::to_string(r.file_index) +
                                           " which is not listed");
    }
    return {};
}

}  // namespace

// The share called `name`, or nullptr.
const CompiledShare* CompiledPolicy::find_share(std::string_view name) const
{
    for (const CompiledShare& s : shares) {
        if (s.name == name)
            return &s;
    }
    return nullptr;
}

// The account entry for `uid`, or nullptr.
const AccountInfo* CompiledPolicy::find_user(uid_t uid) const
{
    for (const AccountInfo& a : users) {
        if (a.uid == uid)
            return &a;
    }
    return nullptr;
}

// "FILE:LINE" of a rule, "?" when its file index is out of range.
std::string CompiledPolicy::rule_source(const CompiledRule& r) const
{
    if (r.file_index >= files.size())
        return "?";
    return files[r.file_index] + ":" + std::to_string(r.line);
}

// Names -> numbers; any error (before or after resolving) leaves only `invalid`.
CompiledPolicy policy_compile(Policy& p, Resolver& r, gid_t gate_gid)
{
    CompiledPolicy c;
    c.gate_gid = gate_gid;
    c.log = p.settings.log;
    c.syslog = p.settings.syslog;
    c.tmux = p.settings.tmux;
    c.runtime_dir = p.settings.runtime_dir;
    CompileState s{p, r, c, {}, {}};
    compile_files(s);
    compile_shares(s);
    compile_rules(s);
    compile_accounts(s);
    if (!p.errors.empty()) {
        c.invalid = p.errors.front();
        c.shares.clear();
        c.rules.clear();
        c.users.clear();
    }
    return c;
}

// The text form of compiled.hpp, records in a fixed order, ending in "end\n".
std::string compiled_serialize(const CompiledPolicy& c)
{
    std::string out;
    out.reserve(256 + c.rules.size() * 64 + c.users.size() * 64 + c.shares.size() * 64);
    out += std::string(kHeader) + "\n";
    out += "gate " + std::to_string(c.gate_gid) + "\n";
    out += "log " + c.log + "\n";
    out += std::string("syslog ") + (c.syslog ? "1" : "0") + "\n";
    out += "tmux " + c.tmux + "\n";
    out += "runtime-dir " + c.runtime_dir + "\n";
    for (std::size_t i = 0; i < c.files.size(); ++i)
        out += "file " + std::to_string(i) + " " + c.files[i] + "\n";
    if (!c.invalid.empty())
        out += "invalid " + message_escape(c.invalid) + "\n";
    std::vector<std::string> block;
    block.reserve(c.users.size() + c.shares.size() + c.rules.size());
    for (const AccountInfo& a : c.users)
        block.push_back("user " + std::to_string(a.uid) + " " + a.name + " " + a.home + " " + a.shell + "\n");
    for (const CompiledShare& s : c.shares)
        block.push_back("share " + s.name + " " + std::to_string(s.owner_uid) + " " + s.socket + "\n");
    for (const CompiledRule& r : c.rules) {
        std::string line;
        rule_serialize(line, r);
        block.push_back(std::move(line));
    }
    std::sort(block.begin(), block.end());
    for (const std::string& line : block)
        out += line;
    out += "end\n";
    return out;
}

namespace {

// Every line, in order, the block checked to be sorted (contract 1, 2, 4).
Result<CompiledPolicy> compiled_parse_all(std::string_view text)
{
    ParseState st;
    std::string_view previous_block_line;
    std::size_t pos = 0;
    std::size_t line_no = 0;
    while (pos < text.size()) {
        const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
        if (nl == nullptr)
            return parse_fail(line_no + 1, "truncated (no newline)");
        std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - text.data());
        std::string_view line = text.substr(pos, end - pos);
        ++line_no;
        if (line_no == 1 && line != kHeader)
            return parse_fail(line_no, "not a tmuxguard-compiled 1 file");
        if (line == "end") {
            if (end + 1 != text.size())
                return parse_fail(line_no, "data after end");
            Result<void> done = parse_finish(st, line_no);
            if (!done)
                return std::unexpected(done.error());
            return std::move(st.c);
        }
        bool block = line_is_block(line);
        if (!block && !previous_block_line.empty())
            return parse_fail(line_no, "record after the sorted block");
        if (block && line < previous_block_line)
            return parse_fail(line_no, "sorted block out of order");
        if (block)
            previous_block_line = line;
        if (line_no > 1 && !record_parse(st, line))
            return parse_fail(line_no, "malformed record");
        pos = end + 1;
    }
    return parse_fail(line_no, "truncated (no end record)");
}

// First line start in [lo, hi) whose first |p| bytes are >= p (hi if none).
// [lo, hi) holds whole lines in byte order, each ending in '\n'.
std::size_t block_lower_bound(std::string_view text, std::size_t lo, std::size_t hi,
                              std::string_view p)
{
    while (lo < hi) {
        std::size_t mid = lo + (hi - lo) / 2;
        std::size_t start = mid;
        while (start > lo && text[start - 1] != '\n')
            --start;
        std::size_t end = text.find('\n', start);
        if (text.substr(start, std::min(p.size(), end - start)) < p)
            lo = end + 1;
        else
            hi = start;
    }
    return lo;
}

// Parses the adjacent block lines that start with `p`.
Result<void> block_range_parse(ParseState& st, std::string_view text, std::size_t lo,
                               std::size_t hi, std::string_view p)
{
    for (std::size_t pos = block_lower_bound(text, lo, hi, p); pos < hi;) {
        std::size_t end = text.find('\n', pos);
        std::string_view line = text.substr(pos, end - pos);
        if (!line.starts_with(p))
            break;
        if (!record_parse(st, line))
            return fail("policy-invalid", 0, "compiled policy",
                        "byte " + std::to_string(pos) + ": malformed record");
        pos = end + 1;
    }
    return {};
}

// The head in order, then only the block ranges asked for (contract 1-3).
Result<CompiledPolicy> compiled_parse_filtered(std::string_view text, std::string_view share,
                                               std::optional<uid_t> uid)
{
    ParseState st;
    std::size_t pos = 0;
    std::size_t line_no = 0;
    for (;;) {
        const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
        if (pos >= text.size() || nl == nullptr)
            return parse_fail(line_no + 1, "truncated (no end record)");
        std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - text.data());
        std::string_view line = text.substr(pos, end - pos);
        ++line_no;
        if (line_no == 1 && line != kHeader)
            return parse_fail(line_no, "not a tmuxguard-compiled 1 file");
        if (line == "end" || line_is_block(line))
            break;
        if (line_no > 1 && !record_parse(st, line))
            return parse_fail(line_no, "malformed record");
        pos = end + 1;
    }
    if (!text.ends_with("\nend\n"))
        return parse_fail(line_no, "truncated (no end record)");
    std::size_t block_end = text.size() - 4;
    std::vector<std::string> prefixes{"rule * "};
    if (name_is_valid_share(share)) {
        prefixes.push_back("rule " + std::string(share) + " ");
        prefixes.push_back("share " + std::string(share) + " ");
    }
    prefixes.push_back(uid ? "user " + std::to_string(*uid) + " " : "user ");
    for (const std::string& p : prefixes)
        if (Result<void> ok = block_range_parse(st, text, pos, block_end, p); !ok)
            return std::unexpected(ok.error());
    Result<void> done = parse_finish(st, line_no);
    if (!done)
        return std::unexpected(done.error());
    return std::move(st.c);
}

}  // namespace

// A full check of every line, or, with `only_share`, a bisecting read of
// what one attach needs; see the contract at the top of this file.
Result<CompiledPolicy> compiled_parse(std::string_view text, std::optional<std::string_view> only_share,
                                      std::optional<uid_t> only_uid)
{
    if (only_share)
        return compiled_parse_filtered(text, *only_share, only_uid);
    return compiled_parse_all(text);
}

}  // namespace tg
