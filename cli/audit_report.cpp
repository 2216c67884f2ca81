// audit, stage 6: the report (audit.hpp). Every string that came from the
// file system, NSS or tmux goes out through table_print/out_line (control
// bytes as \xNN) or json_quote.
#include <grp.h>

#include "audit.hpp"
#include "cli.hpp"

namespace tgcli::audit {
namespace {

constexpr std::size_t kCellNames = 5;

// "a, b, c +2".
std::string names_cell(const std::vector<std::string>& names)
{
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < kCellNames; ++i)
        out += (i == 0 ? "" : ", ") + names[i];
    if (names.size() > kCellNames)
        out += " +" + std::to_string(names.size() - kCellNames);
    return out;
}

// REACHABLE-BY: "everyone", "everyone but bob", "alice +gate", "nobody".
std::string reach_cell(const Socket& s)
{
    if (!s.reach.known)
        return "?";
    std::string out;
    if (s.reach.everyone)
        out = s.reach.excluded.empty() ? "everyone" : "everyone but " + names_cell(s.reach.excluded);
    else
        out = s.reach.accounts.empty() ? "nobody" : names_cell(s.reach.accounts);
    return out + (s.reach.gate && !s.reach.everyone ? " +gate" : "");
}

// TMUX: the version, "stale", "not tmux" or "?".
std::string tmux_cell(const Socket& s)
{
    if (s.state == Liveness::stale)
        return "stale";
    if (s.state == Liveness::live && !s.tmux)
        return "not tmux";
    return s.version.empty() ? "?" : s.version;
}

// ACCESS-LIST: "bob(R) carol(W)", "(empty)", "none (<3.3)", "?" or "-".
std::string list_cell(const Socket& s)
{
    if (s.state != Liveness::live || !s.tmux)
        return "-";
    if (s.query == QueryState::no_access_list)
        return "none (<3.3)";
    if (s.query != QueryState::answered)
        return "?";
    std::string out;
    for (const AccessEntry& e : s.access_list)
        out += (out.empty() ? "" : " ") + e.name + (e.mode == tg::Mode::view ? "(R)" : "(W)");
    return out.empty() ? "(empty)" : out;
}

std::string_view state_name(Liveness l)
{
    return l == Liveness::live ? "live" : l == Liveness::stale ? "stale" : "unknown";
}

std::string_view query_name(QueryState q)
{
    switch (q) {
    case QueryState::answered:
        return "answered";
    case QueryState::no_access_list:
        return "no-access-list";
    case QueryState::failed:
        return "failed";
    case QueryState::not_asked:
        break;
    }
    return "not-asked";
}

// The socket as one JSON object.
std::string socket_json(const Socket& s)
{
    std::string j = "{\"socket\":" + json_quote(s.path) + ",\"owner\":" + json_quote(account_name(s.owner_uid())) +
                    ",\"owner_uid\":" + std::to_string(s.owner_uid()) +
                    ",\"pid\":" + (s.pid != 0 ? std::to_string(s.pid) : "null") +
                    ",\"state\":" + json_quote(state_name(s.state)) + ",\"tmux\":" + (s.tmux ? "true" : "false") +
                    ",\"version\":" + (s.version.empty() ? "null" : json_quote(s.version)) +
                    ",\"share\":" + (s.share != nullptr ? json_quote(s.share->name) : "null");
    if (s.reach.known)
        j += ",\"reachable_by\":" + json_string_array(s.reach.accounts) + ",\"everyone\":" +
             (s.reach.everyone ? "true" : "false") + ",\"gate\":" + (s.reach.gate ? "true" : "false");
    else
        j += ",\"reachable_by\":null,\"everyone\":null,\"gate\":null";
    j += ",\"query\":" + json_quote(query_name(s.query)) + ",\"access_list\":";
    if (s.query != QueryState::answered)
        return j + "null}";
    std::string list;
    for (const AccessEntry& e : s.access_list)
        list += (list.empty() ? "" : ",") + std::string("{\"user\":") + json_quote(e.name) +
                ",\"mode\":" + json_quote(tg::mode_name(e.mode)) + "}";
    return j + "[" + list + "]}";
}

}  // namespace

std::string_view severity_name(Severity s)
{
    switch (s) {
    case Severity::high:
        return "high";
    case Severity::medium:
        return "medium";
    case Severity::low:
        return "low";
    case Severity::info:
        break;
    }
    return "info";
}

std::string counted(std::size_t n, std::string_view one, std::string_view many)
{
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// getpwuid_r once per uid.
std::string account_name(uid_t uid)
{
    static std::map<uid_t, std::string> cache;
    auto it = cache.find(uid);
    if (it != cache.end())
        return it->second;
    std::optional<Account> a = nss_account_by_uid(uid);
    return cache.emplace(uid, a ? a->name : "uid " + std::to_string(uid)).first->second;
}

// getgrgid_r once per gid.
std::string group_name(gid_t gid)
{
    static std::map<gid_t, std::string> cache;
    auto it = cache.find(gid);
    if (it != cache.end())
        return it->second;
    struct group gr {};
    struct group* res = nullptr;
    std::vector<char> buf(1U << 16U);
    const bool found = ::getgrgid_r(gid, &gr, buf.data(), buf.size(), &res) == 0 && res != nullptr;
    return cache.emplace(gid, found ? std::string(gr.gr_name) : "gid " + std::to_string(gid)).first->second;
}

// Table, findings, limits; sections apart by a blank line.
void report_print(const std::vector<Socket>& sockets, const std::vector<Finding>& findings,
                  const std::vector<std::string>& limits)
{
    if (sockets.empty()) {
        out_line("no tmux sockets found");
    } else {
        std::vector<std::vector<std::string>> rows;
        for (const Socket& s : sockets)
            rows.push_back({s.path, account_name(s.owner_uid()), s.pid != 0 ? std::to_string(s.pid) : "-",
                            tmux_cell(s), s.share != nullptr ? s.share->name : "-", reach_cell(s), list_cell(s)});
        table_print({"SOCKET", "OWNER", "PID", "TMUX", "SHARE", "REACHABLE-BY", "ACCESS-LIST"}, rows);
    }
    out_line("");
    if (findings.empty())
        out_line("no findings");
    for (const Finding& f : findings) {
        out_line(std::string(severity_name(f.severity)) + " " + f.code + " " + f.socket + ": " + f.message);
        out_line("  fix: " + f.fix);
    }
    if (limits.empty())
        return;
    out_line("");
    out_line("not checked:");
    for (const std::string& l : limits)
        out_line("  " + l);
}

// One line of JSON.
std::string report_json(const std::vector<Socket>& sockets, const std::vector<Finding>& findings,
                        const std::vector<std::string>& limits)
{
    std::string socks;
    for (const Socket& s : sockets)
        socks += (socks.empty() ? "" : ",") + socket_json(s);
    std::string finds;
    for (const Finding& f : findings)
        finds += (finds.empty() ? "" : ",") + std::string("{\"severity\":") + json_quote(severity_name(f.severity)) +
                 ",\"code\":" + json_quote(f.code) + ",\"socket\":" + json_quote(f.socket) +
                 ",\"message\":" + json_quote(f.message) + ",\"fix\":" + json_quote(f.fix) + "}";
    return "{\"sockets\":[" + socks + "],\"findings\":[" + finds + "],\"limits\":" + json_string_array(limits) + "}";
}

}  // namespace tgcli::audit
