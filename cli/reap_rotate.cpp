// tmuxguard reap --idle DURATION [--dry-run] [--json]
// tmuxguard rotate [SHARE...] [--json]
//
// Both act on running shares the caller may manage (the owner for its own,
// or root), run every tmux command as the owner (tmux_run_as, -N), and
// write one decision record per action.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <ctime>
#include <thread>

#include "cli.hpp"
#include "nss.hpp"
#include "ops_server.hpp"
#include "ops_snapshot.hpp"
#include "share_ops.hpp"
#include "tmux_exec.hpp"
#include "tmuxguard/acl.hpp"

namespace tgcli {

namespace {

constexpr const char* kReap = "reap";
constexpr const char* kRotate = "rotate";

// ---------------------------------------------------------------- reap

enum class ReapKind : std::uint8_t { detach, end };

// One thing reap does (or, with --dry-run, would do).
struct ReapAction {
    ReapKind kind = ReapKind::detach;
    SnapClient client;    // detach: the guest's client
    SnapSession session;  // end: the dormant session
    long long idle = 0;   // seconds
    bool last = false;    // end: the server's last session (tmux then exits)
    bool done = false;
};

// One share's reap.
struct ShareReap {
    std::string share;
    bool running = false;
    pid_t server_pid = 0;
    std::vector<ReapAction> actions;
    std::vector<std::string> errors;
};

// The account name of a uid, "uid N" when NSS has none.
std::string uid_name(uid_t uid)
{
    std::optional<Account> a = nss_account_by_uid(uid);
    return a ? a->name : "uid " + std::to_string(uid);
}

// Guests idle longer than `idle` (never the owner's own clients), then
// sessions without a client whose last activity (the session's, or output
// in any of its windows) is older than `idle`.
std::vector<ReapAction> reap_plan(const ServerSnapshot& snap, uid_t owner, long long idle,
                                  std::time_t now)
{
    std::vector<ReapAction> plan;
    for (const SnapClient& cl : snap.clients) {
        long long quiet = static_cast<long long>(now - cl.activity);
        if (cl.uid != owner && quiet > idle)
            plan.push_back(ReapAction{ReapKind::detach, cl, {}, quiet, false, false});
    }
    std::size_t ended = 0;
    for (const SnapSession& se : snap.sessions) {
        long long quiet = static_cast<long long>(now - se.activity);
        if (se.attached == 0 && quiet > idle) {
            plan.push_back(ReapAction{ReapKind::end, {}, se, quiet, false, false});
            ++ended;
        }
    }
    if (ended != 0 && ended == snap.sessions.size())
        plan.back().last = true;
    return plan;
}

// The record of one action: deny, reason idle (a guest) or dormant (a session).
void reap_log(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const ShareReap& rep,
              const ReapAction& act)
{
    tg::DecisionRecord r;
    r.event = "reap";
    r.allow = false;
    r.share = s.name;
    r.owner_uid = s.owner_uid;
    r.socket = s.socket;
    r.server_pid = rep.server_pid;
    const std::string idle = duration_format(std::chrono::seconds(act.idle));
    const std::string by = std::to_string(::getuid());
    if (act.kind == ReapKind::detach) {
        r.reason = "idle";
        r.uid = act.client.uid;
        r.mode = act.client.readonly ? "view" : "interact";
        r.session = act.client.session;
        r.tty = act.client.name;
        r.detail = "idle " + idle + ", detached by uid " + by;
    } else {
        r.reason = "dormant";
        r.uid = s.owner_uid;
        r.mode = "none";
        r.session = act.session.name;
        r.detail = "dormant " + idle + ", ended by uid " + by +
                   (act.last ? "; the last session: the server exits" : "");
    }
    cli_log_event(c, r, kReap);
}

// Runs one tmux command as the owner; an error message or "".
std::string owner_tmux_run(const tg::CompiledPolicy& c, const tg::CompiledShare& s,
                           const Account& owner, const std::vector<std::string>& args)
{
    tg::Result<TmuxResult> r = tmux_run_as(c.tmux, s, owner, args, TmuxStart::never);
    if (!r)
        return r.error().message();
    if (r->status == 0)
        return {};
    std::string why = r->err.empty() ? r->out : r->err;
    while (!why.empty() && why.back() == '\n')
        why.pop_back();
    return "tmux " + args.front() + " failed (status " + std::to_string(r->status) +
           "): " + why.substr(0, 200);
}

// detach-client -t CLIENT / kill-session -t $ID (ids are never reused in a
// server, unlike names), then the record.
void reap_apply(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const Account& owner,
                ShareReap& rep)
{
    for (ReapAction& act : rep.actions) {
        std::vector<std::string> args =
            act.kind == ReapKind::detach
                ? std::vector<std::string>{"detach-client", "-t", act.client.name}
                : std::vector<std::string>{"kill-session", "-t", act.session.id};
        if (std::string err = owner_tmux_run(c, s, owner, args); !err.empty()) {
            rep.errors.push_back(err);
            continue;
        }
        act.done = true;
        reap_log(c, s, rep, act);
    }
}

// Probe, snapshot, plan, and (unless dry) act.
ShareReap share_reap(const tg::CompiledPolicy& c, const tg::CompiledShare& s, long long idle,
                     bool dry)
{
    ShareReap rep{s.name, false, 0, {}, {}};
    tg::Result<ServerProbe> p = server_probe(s);
    if (!p || p->state != ServerState::running) {
        if (!p)
            rep.errors.push_back(p.error().message());
        return rep;
    }
    rep.running = true;
    rep.server_pid = p->peer.pid;
    std::optional<Account> owner = nss_account_by_uid(s.owner_uid);
    tg::Result<ServerSnapshot> snap =
        owner ? snapshot_read(c, s, *owner)
              : tg::Result<ServerSnapshot>(tg::fail("no-owner", 0, {}, "owner uid " +
                                                    std::to_string(s.owner_uid) + " has no account"));
    if (!snap) {
        rep.errors.push_back(snap.error().message());
        return rep;
    }
    rep.actions = reap_plan(*snap, s.owner_uid, idle, std::time(nullptr));
    if (!dry)
        reap_apply(c, s, *owner, rep);
    return rep;
}

// "detached alice (view, session pair, idle 3m)" / "ended session old (dormant 2h)".
std::string reap_action_text(const ReapAction& act, bool dry)
{
    const std::string idle = duration_format(std::chrono::seconds(act.idle));
    if (act.kind == ReapKind::detach)
        return std::string(dry ? "would detach " : "detached ") + uid_name(act.client.uid) + " (" +
               (act.client.readonly ? "view" : "interact") + ", session " + act.client.session +
               ", idle " + idle + ")";
    std::string text = std::string(dry ? "would end" : "ended") + " session " + act.session.name +
                       " (dormant " + idle + ")";
    if (act.last)
        text += dry ? "; it is the last session, so the server would exit"
                    : "; it was the last session, so the server exits";
    return text;
}

// Lines on stdout, errors on stderr.
void reap_print(const ShareReap& rep, bool dry)
{
    for (const std::string& e : rep.errors)
        err_line(kReap, rep.share + ": " + e);
    if (!rep.running) {
        if (rep.errors.empty())
            out_line(rep.share + ": not running");
        return;
    }
    bool any = false;
    for (const ReapAction& act : rep.actions) {
        if (dry || act.done) {
            out_line("reap " + rep.share + ": " + reap_action_text(act, dry));
            any = true;
        }
    }
    if (!any && rep.errors.empty())
        out_line("reap " + rep.share + ": nothing idle");
}

// One action as JSON.
std::string reap_action_json(const ReapAction& act)
{
    std::string done = act.done ? "true" : "false";
    if (act.kind == ReapKind::detach)
        return "{\"action\":\"detach\",\"user\":" + json_quote(uid_name(act.client.uid)) +
               ",\"uid\":" + std::to_string(act.client.uid) + ",\"mode\":" +
               json_quote(act.client.readonly ? "view" : "interact") +
               ",\"session\":" + json_quote(act.client.session) +
               ",\"client\":" + json_quote(act.client.name) +
               ",\"idle_seconds\":" + std::to_string(act.idle) + ",\"done\":" + done + "}";
    return "{\"action\":\"end\",\"session\":" + json_quote(act.session.name) +
           ",\"idle_seconds\":" + std::to_string(act.idle) +
           ",\"last\":" + (act.last ? "true" : "false") + ",\"done\":" + done + "}";
}

// One share as JSON.
std::string share_reap_json(const ShareReap& rep)
{
    std::string list;
    for (const ReapAction& act : rep.actions)
        list += (list.empty() ? "" : ",") + reap_action_json(act);
    return "{\"share\":" + json_quote(rep.share) + ",\"running\":" + (rep.running ? "true" : "false") +
           ",\"server_pid\":" + (rep.running ? std::to_string(rep.server_pid) : "null") +
           ",\"actions\":[" + list + "],\"errors\":" + json_string_array(rep.errors) + "}";
}

// ---------------------------------------------------------------- rotate

// How long the server gets to re-create its socket, and how often we look.
constexpr auto kRotateWait = std::chrono::seconds(5);
constexpr auto kRotatePoll = std::chrono::milliseconds(10);

struct ShareRotate {
    std::string share;
    bool running = false;
    pid_t server_pid = 0;
    ino_t old_inode = 0;
    ino_t new_inode = 0;
    bool acl_applied = false;
    bool synced = false;
    SyncReport sync;
    std::vector<std::string> errors;
};

// What the socket path holds now: a new socket of the owner's whose
// listener is the server, or a reason to keep waiting (nullopt), or an error.
tg::Result<std::optional<tg::UniqueFd>> socket_replacement_check(int dir, const tg::CompiledShare& s,
                                                                 ino_t old_inode, pid_t server)
{
    const std::string base = path_basename(s.socket);
    tg::UniqueFd fd(::openat(dir, base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() && errno == ENOENT)
        return std::nullopt;
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
        return tg::fail("path-error", errno, s.socket, "cannot open");
    if (st.st_ino == old_inode)
        return std::nullopt;
    if (!S_ISSOCK(st.st_mode) || st.st_uid != s.owner_uid)
        return tg::fail("socket-replaced", 0, s.socket,
                        "inode " + std::to_string(st.st_ino) + " is not a socket of uid " +
                            std::to_string(s.owner_uid) + "; left alone, no ACL applied");
    tg::Result<tg::PeerInfo> peer = tg::peer_verify(fd.get(), s.owner_uid);
    if (!peer && peer.error().reason == "server-not-running")
        return std::nullopt;  // bound, not yet listening
    if (!peer)
        return std::unexpected(peer.error());
    if (peer->pid != server)
        return tg::fail("peer-mismatch", 0, s.socket,
                        "inode " + std::to_string(st.st_ino) + " is served by pid " +
                            std::to_string(peer->pid) + ", not the server (pid " +
                            std::to_string(server) + "); left alone, no ACL applied");
    return std::optional<tg::UniqueFd>(std::move(fd));
}

// Polls until the server's new socket is in place (bounded by kRotateWait,
// ended early when the server exits). The caller keeps the old socket's
// descriptor open, so its inode number cannot come back as the new one's.
tg::Result<tg::UniqueFd> socket_replacement_wait(const ServerProbe& p, const tg::CompiledShare& s,
                                                 ino_t old_inode, const ServerProcess& server)
{
    const auto deadline = std::chrono::steady_clock::now() + kRotateWait;
    while (true) {
        tg::Result<std::optional<tg::UniqueFd>> r =
            socket_replacement_check(p.dir.get(), s, old_inode, server.pid);
        if (!r)
            return std::unexpected(r.error());
        if (r->has_value())
            return std::move(**r);
        if (server_process_exited(server))
            return tg::fail("server-exited", 0, s.socket,
                            "the server (pid " + std::to_string(server.pid) +
                                ") exited; the share is not running");
        if (std::chrono::steady_clock::now() >= deadline)
            return tg::fail("socket-not-recreated", 0, s.socket, "");
        std::this_thread::sleep_for(kRotatePoll);
    }
}

// The exact state after the wait ran out: the old socket still in place
// (with its ACL), or no socket at all.
std::string rotate_timeout_state(const ServerProbe& p, const tg::CompiledShare& s, ino_t old_inode)
{
    struct stat st {};
    const std::string base = path_basename(s.socket);
    if (::fstatat(p.dir.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == old_inode)
        return "the server did not re-create its socket within 5s; the old socket (inode " +
               std::to_string(old_inode) +
               ") is still in place with its ACL; should the server re-create it later, the new "
               "one lacks the ACL (guests are refused) until 'tmuxguard sync " + s.name + "'";
    return "no socket at " + s.socket +
           " after 5s: attached clients stay, but nobody can attach until the share is served again";
}

// Once the server has answered through the new socket, its signal handler
// is done; a chmod by tmux (it toggles x bits as clients come and go) can
// still have cleared the ACL mask in the instant we set it, so check the
// ACL then, and set it once more if needed.
tg::Result<void> rotate_acl_confirm(const tg::CompiledPolicy& c, const tg::CompiledShare& s,
                                    const Account& owner, int sock, pid_t server)
{
    tg::Result<TmuxResult> r =
        tmux_run_as(c.tmux, s, owner, {"display-message", "-p", "#{pid}"}, TmuxStart::never);
    if (!r)
        return std::unexpected(r.error());
    if (r->status != 0 || r->out != std::to_string(server) + "\n")
        return tg::fail("peer-mismatch", 0, s.socket, "the server did not answer as pid " +
                                                          std::to_string(server));
    struct stat st {};
    if (::fstat(sock, &st) != 0)
        return tg::fail("path-error", errno, s.socket, "fstat");
    if (tg::socket_acl_check(sock, s.owner_uid, st.st_gid, c.gate_gid))
        return {};
    if (tg::Result<void> again = tg::acl_apply_socket(sock, c.gate_gid); !again)
        return again;
    return tg::socket_acl_check(sock, s.owner_uid, st.st_gid, c.gate_gid);
}

// Contract for share_rotate(): it MUST
//  1. signal only the verified server: the listener of the socket the walk
//     verified (SO_PEERCRED uid = owner), through a pidfd
//     (server_process_open), never kill() of a pid;
//  2. keep the old socket's O_PATH descriptor open throughout, so a changed
//     inode number always means a new socket;
//  3. wait bounded (kRotateWait), and stop early when the server exits;
//  4. accept the new socket only if it is a socket (never followed) owned
//     by the owner whose listener is the same server pid (SO_PEERCRED);
//     anything else is left alone and reported;
//  5. set the ACL at once through the new socket's O_PATH descriptor, and
//     confirm it after a round trip through the server; then sync;
//  6. on every failure, say in which state the socket was left. Until the
//     ACL is on, tmux's new socket is 0600: only the owner can connect and
//     the wrapper refuses guests (acl-gate-missing), the safe direction.
void share_rotate(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const Account& owner,
                  const ServerProbe& p, ShareRotate& rep)
{
    struct stat st {};
    if (::fstat(p.socket.get(), &st) != 0) {
        rep.errors.push_back(s.socket + ": fstat: " + std::strerror(errno));
        return;
    }
    rep.old_inode = st.st_ino;
    tg::Result<ServerProcess> server = server_process_open(p.socket.get(), s.owner_uid);
    tg::Result<void> sent = server ? server_process_signal(*server, SIGUSR1)
                                   : tg::Result<void>(std::unexpected(server.error()));
    if (!sent) {
        rep.errors.push_back("cannot signal the server: " + sent.error().message() +
                             "; the socket is unchanged (inode " + std::to_string(rep.old_inode) +
                             ", ACL in place)");
        return;
    }
    rep.server_pid = server->pid;
    tg::Result<tg::UniqueFd> sock = socket_replacement_wait(p, s, rep.old_inode, *server);
    if (!sock) {
        rep.errors.push_back(sock.error().reason == "socket-not-recreated"
                                 ? rotate_timeout_state(p, s, rep.old_inode)
                                 : sock.error().message());
        return;
    }
    struct stat nst {};
    rep.new_inode = ::fstat(sock->get(), &nst) == 0 ? nst.st_ino : 0;
    const std::string new_socket = "the new socket (inode " + std::to_string(rep.new_inode) + ")";
    if (tg::Result<void> acl = tg::acl_apply_socket(sock->get(), c.gate_gid); !acl) {
        rep.errors.push_back(new_socket + " lacks the gate ACL (tmux makes it 0600: only the owner "
                             "can connect, guests are refused): " + acl.error().message() +
                             "; run 'tmuxguard sync " + s.name + "'");
        return;
    }
    if (tg::Result<void> ok = rotate_acl_confirm(c, s, owner, sock->get(), server->pid); !ok) {
        rep.errors.push_back(new_socket + " got the gate ACL, but " + ok.error().message() +
                             "; while the ACL is incomplete guests are refused; run 'tmuxguard "
                             "sync " + s.name + "'");
        return;
    }
    rep.acl_applied = true;
}

// The record of a rotation.
void rotate_log(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const ShareRotate& rep)
{
    tg::DecisionRecord r;
    r.event = "rotate";
    r.uid = ::getuid();  // who rotated
    r.allow = true;
    r.reason = "rotated";
    r.share = s.name;
    r.mode = "none";
    r.owner_uid = s.owner_uid;
    r.socket = s.socket;
    r.server_pid = rep.server_pid;
    r.detail = "socket inode " + std::to_string(rep.old_inode) + " -> " + std::to_string(rep.new_inode);
    cli_log_event(c, r, kRotate);
}

// Probe, rotate, record, sync.
ShareRotate share_rotate_run(const tg::CompiledPolicy& c, const tg::CompiledShare& s)
{
    ShareRotate rep;
    rep.share = s.name;
    tg::Result<ServerProbe> p = server_probe(s);
    if (!p || p->state != ServerState::running) {
        if (!p)
            rep.errors.push_back(p.error().message());
        return rep;
    }
    rep.running = true;
    rep.server_pid = p->peer.pid;
    std::optional<Account> owner = nss_account_by_uid(s.owner_uid);
    if (!owner) {
        rep.errors.push_back("owner uid " + std::to_string(s.owner_uid) + " has no account");
        return rep;
    }
    share_rotate(c, s, *owner, *p, rep);
    if (!rep.acl_applied)
        return rep;
    rotate_log(c, s, rep);
    rep.sync = sync_share(c, s, std::time(nullptr));
    rep.synced = true;
    return rep;
}

// "rotate SHARE: socket inode A -> B, ACL applied", then the sync lines.
void rotate_print(const ShareRotate& rep)
{
    for (const std::string& e : rep.errors)
        err_line(kRotate, rep.share + ": " + e);
    if (!rep.running && rep.errors.empty())
        out_line(rep.share + ": not running");
    if (rep.acl_applied)
        out_line("rotate " + rep.share + ": socket inode " + std::to_string(rep.old_inode) + " -> " +
                 std::to_string(rep.new_inode) + ", ACL applied");
    if (rep.synced)
        sync_report_print(rep.sync, kRotate);
}

// One share as JSON.
std::string share_rotate_json(const ShareRotate& rep)
{
    auto inode = [](ino_t i) { return i == 0 ? std::string("null") : std::to_string(i); };
    return "{\"share\":" + json_quote(rep.share) + ",\"running\":" + (rep.running ? "true" : "false") +
           ",\"server_pid\":" + (rep.running ? std::to_string(rep.server_pid) : "null") +
           ",\"old_inode\":" + inode(rep.old_inode) + ",\"new_inode\":" + inode(rep.new_inode) +
           ",\"acl_applied\":" + (rep.acl_applied ? "true" : "false") +
           ",\"sync\":" + (rep.synced ? sync_report_json(rep.sync) : "null") +
           ",\"errors\":" + json_string_array(rep.errors) + "}";
}

}  // namespace

// Detaches idle guests and ends dormant sessions on every share the caller
// manages; exit 3 if any share failed.
int cmd_reap(const std::vector<std::string>& argv)
{
    tg::Result<Args> a =
        args_parse(argv, OptionSpec{.json = true, .flags = {"--dry-run"}, .values = {"--idle"}});
    if (!a || !a->operands.empty() || !a->value("--idle")) {
        err_line(kReap, a ? "usage: tmuxguard reap --idle DURATION [--dry-run] [--json]"
                          : a.error().detail);
        return kExitUsage;
    }
    tg::Result<std::chrono::seconds> idle = duration_parse(*a->value("--idle"));
    if (!idle) {
        err_line(kReap, idle.error().detail);
        return kExitUsage;
    }
    std::expected<ShareSelection, int> sel = share_selection_load({}, kReap, kReap);
    if (!sel)
        return sel.error();
    const tg::CompiledPolicy* c = &sel->policy;
    const std::vector<const tg::CompiledShare*>* targets = &sel->shares;
    const bool dry = a->flag("--dry-run");
    int status = kExitOk;
    std::string json;
    for (const tg::CompiledShare* s : *targets) {
        ShareReap rep = share_reap(*c, *s, idle->count(), dry);
        if (!rep.errors.empty())
            status = kExitSystem;
        if (a->json)
            json += (json.empty() ? "" : ",") + share_reap_json(rep);
        else
            reap_print(rep, dry);
    }
    if (a->json)
        json_out_line("{\"dry_run\":" + std::string(dry ? "true" : "false") +
                 ",\"idle_seconds\":" + std::to_string(idle->count()) + ",\"shares\":[" + json + "]}");
    return status;
}

// Re-creates each running share's socket, re-applies its ACL, syncs it;
// exit 3 if any share failed.
int cmd_rotate(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{.json = true});
    if (!a) {
        err_line(kRotate, a.error().detail);
        return kExitUsage;
    }
    std::expected<ShareSelection, int> sel = share_selection_load(a->operands, kRotate, kRotate);
    if (!sel)
        return sel.error();
    const tg::CompiledPolicy* c = &sel->policy;
    const std::vector<const tg::CompiledShare*>* targets = &sel->shares;
    int status = kExitOk;
    std::string json;
    for (const tg::CompiledShare* s : *targets) {
        ShareRotate rep = share_rotate_run(*c, *s);
        if (!rep.errors.empty() || (rep.synced && !rep.sync.ok()))
            status = kExitSystem;
        if (a->json)
            json += (json.empty() ? "" : ",") + share_rotate_json(rep);
        else
            rotate_print(rep);
    }
    if (a->json)
        json_out_line("{\"shares\":[" + json + "]}");
    return status;
}

}  // namespace tgcli
