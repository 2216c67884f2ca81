// tmuxguard clients [SHARE...] [--json]
//
// Who is attached to which share: for each running share the caller may
// manage, the clients its server lists (read as the owner, parsed strictly,
// see ops_snapshot.hpp), with the user from NSS for the client's uid.
#include <algorithm>
#include <chrono>
#include <ctime>

#include "cli.hpp"
#include "nss.hpp"
#include "ops_snapshot.hpp"
#include "share_ops.hpp"

namespace tgcli {

namespace {

constexpr const char* kClients = "clients";

// One share's answer.
struct ShareClients {
    std::string share;
    uid_t owner_uid = 0;
    bool running = false;
    pid_t server_pid = 0;
    std::vector<SnapClient> clients;
    std::vector<std::string> errors;
};

// Probe, then the server's clients as its owner, oldest first.
ShareClients share_clients_read(const tg::CompiledPolicy& c, const tg::CompiledShare& s)
{
    ShareClients r{s.name, s.owner_uid, false, 0, {}, {}};
    tg::Result<ServerProbe> p = server_probe(s);
    if (!p) {
        r.errors.push_back(p.error().message());
        return r;
    }
    if (p->state != ServerState::running)
        return r;
    r.running = true;
    r.server_pid = p->peer.pid;
    std::optional<Account> owner = nss_account_by_uid(s.owner_uid);
    if (!owner) {
        r.errors.push_back("owner uid " + std::to_string(s.owner_uid) + " has no account");
        return r;
    }
    tg::Result<ServerSnapshot> snap = snapshot_read(c, s, *owner);
    if (!snap) {
        r.errors.push_back(snap.error().message());
        return r;
    }
    r.clients = std::move(snap->clients);
    std::stable_sort(r.clients.begin(), r.clients.end(), [](const SnapClient& a, const SnapClient& b) {
        return a.created != b.created ? a.created < b.created : a.name < b.name;
    });
    return r;
}

// The account name of the client's uid from NSS; the server's word only
// when NSS has none (printed escaped like everything else).
std::string client_user(const SnapClient& cl)
{
    if (std::optional<Account> a = nss_account_by_uid(cl.uid))
        return a->name;
    return cl.user.empty() ? "?" : cl.user;
}

// "view" / "interact".
std::string_view client_mode(const SnapClient& cl)
{
    return cl.readonly ? "view" : "interact";
}

// Seconds since the client's last key, never negative.
long long client_idle(const SnapClient& cl, std::time_t now)
{
    return std::max<long long>(0, static_cast<long long>(now - cl.activity));
}

// The table's row of one client.
std::vector<std::string> client_row(const ShareClients& r, const SnapClient& cl, std::time_t now)
{
    // One word per cell, so `awk` can read the table: the owner's own
    // clients are "owner" (or "owner-view" when read-only).
    std::string mode(client_mode(cl));
    if (cl.uid == r.owner_uid)
        mode = cl.readonly ? "owner-view" : "owner";
    return {r.share,
            client_user(cl),
            std::to_string(cl.uid),
            mode,
            cl.session,
            time_local_format(cl.created),
            duration_format(std::chrono::seconds(client_idle(cl, now))),
            cl.name};
}

// One table for every share, then a line for each share without clients.
void clients_print(const std::vector<ShareClients>& all, std::time_t now)
{
    std::vector<std::vector<std::string>> rows;
    for (const ShareClients& r : all) {
        for (const SnapClient& cl : r.clients)
            rows.push_back(client_row(r, cl, now));
    }
    if (!rows.empty())
        table_print({"SHARE", "USER", "UID", "MODE", "SESSION", "SINCE", "IDLE", "CLIENT"}, rows);
    for (const ShareClients& r : all) {
        if (!r.running && r.errors.empty())
            out_line(r.share + ": not running");
        else if (r.running && r.clients.empty() && r.errors.empty())
            out_line(r.share + ": no clients attached");
    }
}

// {"user":..,"uid":..,"mode":..,"owner":..,"session":..,...}
std::string client_json(const ShareClients& r, const SnapClient& cl, std::time_t now)
{
    return "{\"user\":" + json_quote(client_user(cl)) + ",\"uid\":" + std::to_string(cl.uid) +
           ",\"mode\":" + json_quote(client_mode(cl)) +
           ",\"owner\":" + (cl.uid == r.owner_uid ? "true" : "false") +
           ",\"session\":" + json_quote(cl.session) + ",\"created\":" + std::to_string(cl.created) +
           ",\"since\":" + json_quote(time_local_format(cl.created)) +
           ",\"activity\":" + std::to_string(cl.activity) +
           ",\"idle_seconds\":" + std::to_string(client_idle(cl, now)) +
           ",\"client\":" + json_quote(cl.name) + ",\"tty\":" + json_quote(cl.tty) +
           ",\"pid\":" + std::to_string(cl.pid) + "}";
}

// {"share":..,"running":..,"server_pid":..,"clients":[..],"errors":[..]}
std::string share_clients_json(const ShareClients& r, std::time_t now)
{
    std::string list;
    for (const SnapClient& cl : r.clients)
        list += (list.empty() ? "" : ",") + client_json(r, cl, now);
    return "{\"share\":" + json_quote(r.share) + ",\"running\":" + (r.running ? "true" : "false") +
           ",\"server_pid\":" + (r.running ? std::to_string(r.server_pid) : "null") +
           ",\"clients\":[" + list + "],\"errors\":" + json_string_array(r.errors) + "}";
}

}  // namespace

// Lists the clients of each running share; exit 3 if any share failed.
int cmd_clients(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{.json = true});
    if (!a) {
        err_line(kClients, a.error().detail);
        return kExitUsage;
    }
    std::expected<ShareSelection, int> sel =
        share_selection_load(a->operands, kClients, "list the clients of");
    if (!sel)
        return sel.error();
    const tg::CompiledPolicy* c = &sel->policy;
    const std::vector<const tg::CompiledShare*>* targets = &sel->shares;
    std::vector<ShareClients> all;
    for (const tg::CompiledShare* s : *targets)
        all.push_back(share_clients_read(*c, *s));
    const std::time_t now = std::time(nullptr);
    int status = kExitOk;
    std::string json;
    for (const ShareClients& r : all) {
        if (!r.errors.empty())
            status = kExitSystem;
        if (!a->json) {
            for (const std::string& e : r.errors)
                err_line(kClients, r.share + ": " + e);
        }
        json += (json.empty() ? "" : ",") + share_clients_json(r, now);
    }
    if (a->json)
        json_out_line("{\"shares\":[" + json + "]}");
    else
        clients_print(all, now);
    return status;
}

}  // namespace tgcli
