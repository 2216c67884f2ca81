// tmuxguard serve SHARE
// tmuxguard sync [SHARE...] [--json]
//
// Both read the compiled policy (root-owned, written by reload) and act on a
// share's server only as its owner: every tmux command goes through
// tmux_run_as(); ACLs are set in this process through verified descriptors.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "cli.hpp"
#include "nss.hpp"
#include "runtime_dir.hpp"
#include "tmuxguard/runtime_dir.hpp"
#include "share_ops.hpp"
#include "tmux_exec.hpp"
#include "tmuxguard/acl.hpp"
#include "tmuxguard/names.hpp"
#include "tmuxguard/pathwalk.hpp"

namespace tgcli {

namespace {

constexpr const char* kServe = "serve";
constexpr const char* kSync = "sync";

// The socket's directory, ready for a server: root creates or fixes
// RUNTIME/UID; the owner needs it to exist (and re-sets its ACL); a custom
// socket directory must exist and pass the walk.
tg::Result<tg::UniqueFd> serve_dir_ensure(const tg::CompiledPolicy& c, const tg::CompiledShare& s,
                                          const Account& owner)
{
    std::string dir = path_dirname(s.socket);
    if (share_socket_in_runtime(c, s) && caller_is_root()) {
        tg::Result<tg::UniqueFd> rt = tg::root_dir_ensure(c.runtime_dir);
        if (!rt)
            return std::unexpected(rt.error());
        tg::Result<tg::RuntimeDir> d =
            tg::runtime_user_dir_ensure(rt->get(), c.runtime_dir, owner.uid, owner.gid, c.gate_gid);
        if (!d)
            return std::unexpected(d.error());
        return std::move(d->fd);
    }
    tg::Result<tg::UniqueFd> fd = tg::dir_open_verified(dir, s.owner_uid);
    if (!fd && share_socket_in_runtime(c, s) &&
        (fd.error().err == ENOENT || fd.error().reason == "path-missing"))
        return tg::fail("runtime-dir-missing", 0, dir,
                        "runtime directory missing: run 'tmuxguard reload' as root (" + dir + ")");
    if (!fd)
        return std::unexpected(fd.error());
    if (share_socket_in_runtime(c, s)) {
        if (tg::Result<void> acl = tg::acl_apply_runtime_dir(fd->get(), c.gate_gid); !acl)
            return std::unexpected(acl.error());
    }
    return fd;
}

// Removes a stale socket (checked by server_probe_at) from the verified
// directory, if it is still the same inode.
tg::Result<void> socket_stale_remove(const ServerProbe& p, const tg::CompiledShare& s)
{
    std::string base = path_basename(s.socket);
    struct stat checked {};
    struct stat now {};
    if (::fstat(p.socket.get(), &checked) != 0 ||
        ::fstatat(p.dir.get(), base.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0)
        return tg::fail("path-error", errno, s.socket, "cannot stat");
    if (checked.st_dev != now.st_dev || checked.st_ino != now.st_ino)
        return tg::fail("socket-replaced", 0, s.socket, "changed while being checked");
    if (::unlinkat(p.dir.get(), base.c_str(), 0) != 0)
        return tg::fail("path-error", errno, s.socket, "cannot remove stale socket");
    return {};
}

// new-session plus the hardened options, in one tmux invocation.
std::vector<std::string> serve_tmux_args(const tg::CompiledShare& s)
{
    return {"new-session", "-d", "-s", tg::name_default_session(s.name),
            ";", "set", "-g", "allow-rename", "off",
            ";", "set", "-g", "allow-passthrough", "off",
            ";", "set", "-s", "exit-empty", "on",
            ";", "set", "-s", "exit-unattached", "off",
            ";", "set", "-g", "destroy-unattached", "off",
            ";", "set", "-g", "update-environment", ""};
}

// Starts the server as the owner; an error message or "".
std::string serve_start(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const Account& owner)
{
    tg::Result<TmuxResult> r = tmux_run_as(c.tmux, s, owner, serve_tmux_args(s), TmuxStart::may_start);
    if (!r)
        return r.error().message();
    if (r->status == 0)
        return {};
    std::string why = r->err.empty() ? r->out : r->err;
    while (!why.empty() && why.back() == '\n')
        why.pop_back();
    return "tmux could not start the server (status " + std::to_string(r->status) + "): " + why;
}

// Syncs a share that already runs and reports it; the exit status.
int serve_already(const tg::CompiledPolicy& c, const tg::CompiledShare& s, pid_t pid)
{
    out_line(s.name + " already served (pid " + std::to_string(pid) + ")");
    SyncReport rep = sync_share(c, s, std::time(nullptr));
    sync_report_print(rep, kServe);
    return rep.ok() ? kExitOk : kExitSystem;
}

// Directory, stale socket, start, ACLs and access list; the exit status.
int serve_run(const tg::CompiledPolicy& c, const tg::CompiledShare& s, const Account& owner)
{
    tg::Result<tg::UniqueFd> dir = serve_dir_ensure(c, s, owner);
    tg::Result<ServerProbe> p = dir ? server_probe_at(std::move(*dir), s)
                                    : tg::Result<ServerProbe>(std::unexpected(dir.error()));
    if (p && p->state == ServerState::running)
        return serve_already(c, s, p->peer.pid);
    tg::Result<void> ready = p && p->state == ServerState::stale ? socket_stale_remove(*p, s)
                                                                 : tg::Result<void>();
    if (!p || !ready) {
        const tg::Error& e = p ? ready.error() : p.error();
        err_line(kServe, e.reason == "runtime-dir-missing" ? e.detail : e.message());
        return kExitSystem;
    }
    if (std::string err = serve_start(c, s, owner); !err.empty()) {
        err_line(kServe, err);
        return kExitSystem;
    }
    SyncReport rep = sync_share(c, s, std::time(nullptr));
    tg::Result<ServerProbe> after = server_probe(s);
    if (!after || after->state != ServerState::running) {
        // tmux ends a server whose only session ended: typically an owner
        // whose shell is nologin. Its sync errors would only be noise.
        err_line(kServe, "the server at " + s.socket + " exited right after starting (does " +
                             owner.name + "'s shell " + owner.shell + " run?)");
        return kExitSystem;
    }
    sync_report_print(rep, kServe);
    out_line("serving " + s.name + " at " + s.socket + " (pid " + std::to_string(after->peer.pid) + ")");
    return rep.ok() ? kExitOk : kExitSystem;
}

}  // namespace

// Starts SHARE's server as its owner, or syncs it if it already runs.
int cmd_serve(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{});
    if (!a || a->operands.size() != 1) {
        err_line(kServe, a ? "usage: tmuxguard serve SHARE" : a.error().detail);
        return kExitUsage;
    }
    std::optional<tg::CompiledPolicy> c = policy_load_valid(kServe);
    if (!c)
        return kExitUsage;
    const std::string& name = a->operands[0];
    const tg::CompiledShare* s = tg::name_is_valid_share(name) ? c->find_share(name) : nullptr;
    if (s == nullptr) {
        err_line(kServe, "unknown share '" + name + "'");
        return kExitUsage;
    }
    if (!caller_may_manage(*s)) {
        err_line(kServe, "only the owner of " + name + " or root may serve it");
        return kExitRefused;
    }
    std::optional<Account> owner = nss_account_by_uid(s->owner_uid);
    if (!owner) {
        err_line(kServe, "owner uid " + std::to_string(s->owner_uid) + " has no account");
        return kExitSystem;
    }
    return serve_run(*c, *s, *owner);
}

// Makes the access list of each running share equal the policy now.
int cmd_sync(const std::vector<std::string>& argv)
{
    tg::Result<Args> a = args_parse(argv, OptionSpec{.json = true});
    if (!a) {
        err_line(kSync, a.error().detail);
        return kExitUsage;
    }
    std::expected<ShareSelection, int> sel = share_selection_load(a->operands, kSync, kSync);
    if (!sel)
        return sel.error();
    const tg::CompiledPolicy* c = &sel->policy;
    const std::vector<const tg::CompiledShare*>* targets = &sel->shares;
    int status = kExitOk;
    std::string json;
    for (const tg::CompiledShare* s : *targets) {
        SyncReport rep = sync_share(*c, *s, std::time(nullptr));
        if (a->json)
            json += (json.empty() ? "" : ",") + sync_report_json(rep);
        else
            sync_report_print(rep, kSync);
        if (!rep.ok())
            status = kExitSystem;
    }
    if (a->json)
        json_out_line("{\"shares\":[" + json + "]}");
    return status;
}

}  // namespace tgcli
