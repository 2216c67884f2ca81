// The socket and its path, altered by root on a real share: each alteration
// is refused with its own reason, and a direct connection never works.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "harness.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

// A directory for a share's socket outside the runtime dir, as an admin
// would prepare it: owned by the share's owner, 0700 + group:GATE:--x.
std::string socket_dir_make(const std::string& leaf, const Account& owner)
{
    const std::string dir = path_prefix() + "/" + leaf;
    EXPECT_EQ(mkdir(dir.c_str(), 0700), 0) << dir << ": " << std::strerror(errno);
    EXPECT_EQ(chown(dir.c_str(), owner.uid, owner.gid), 0) << dir;
    RunResult r = proc_run({"setfacl", "-m", "g:" + World::get().gate_group() + ":x", dir});
    EXPECT_EQ(r.status, 0) << r.both();
    return dir;
}

// Runs as root until it becomes `as` and listens on `path`; the parent gets
// its pid once it listens (SO_PEERCRED reports the listener's ids at listen()).
pid_t impostor_listen(const std::string& path, const Account& as)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a {};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
        if (fd < 0 || bind(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0)
            _exit(10);
        if (setgroups(0, nullptr) != 0 || setresgid(as.gid, as.gid, as.gid) != 0 ||
            setresuid(as.uid, as.uid, as.uid) != 0 || listen(fd, 128) != 0)
            _exit(11);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1)
            _exit(12);
        for (;;) {
            int conn = accept(fd, nullptr, nullptr);
            if (conn >= 0)
                close(conn);
        }
    }
    close(ready[1]);
    pollfd p = {ready[0], POLLIN, 0};
    char c = 0;
    bool ok = poll(&p, 1, 5000) == 1 && read(ready[0], &c, 1) == 1;
    close(ready[0]);
    return ok ? pid : -1;
}

}  // namespace

// Base of the socket scenarios: a served share the viewer may view.
class SocketE2E : public E2E {
protected:
    // Installs `s` with a view rule for the viewer, serves it and proves the
    // viewer is allowed before anything is altered.
    void share_ready(Share& s)
    {
        ASSERT_NO_FATAL_FAILURE(
            policy_install({s.policy_line(), rule_permit("view", user("viewer").name, s)}));
        ASSERT_NO_FATAL_FAILURE(serve(s));
        expect_allowed(attach_check(user("viewer"), {s.name}), "view");
    }

    // The viewer's -n attempt is refused with `reason`, and logged so.
    void expect_viewer_refused(const Share& s, std::string_view reason)
    {
        LogMark mark = log_mark();
        RunResult r = attach_check(user("viewer"), {s.name});
        expect_denied(r, reason);
        expect_record(log_record_of(mark, r.pid), "deny", reason);
    }
};

// The viewer's own tmux client cannot use the socket, not even to list.
TEST_F(SocketE2E, ViewerCannotReachTheSocketDirectly)
{
    const Account& viewer = user("viewer");
    Share s = share_make("sock.direct");
    ASSERT_NO_FATAL_FAILURE(share_ready(s));
    RunResult r = proc_run_as(viewer.name, {"tmux", "-S", s.socket, "list-sessions"});
    EXPECT_NE(r.status, 0) << r.both();
    EXPECT_FALSE(contains(r.out, s.session)) << r.both();
    const std::string marker = viewer.home + "/direct-ran";
    r = proc_run_as(viewer.name, {"tmux", "-S", s.socket, "new-window", "-d", "touch " + marker});
    EXPECT_NE(r.status, 0) << r.both();
    r = proc_run_as(viewer.name, {"tmux", "-S", s.socket, "kill-server"});
    EXPECT_NE(r.status, 0) << r.both();
    EXPECT_TRUE(proc_is_alive(s.server_pid)) << "the viewer killed the owner's server";
    RunResult windows = owner_tmux(s, {"list-windows", "-a"});
    EXPECT_EQ(split_lines(windows.out).size(), 1u) << windows.both();
    EXPECT_FALSE(fs::exists(marker));
}

// A socket anyone may read and write: socket-mode-unsafe.
TEST_F(SocketE2E, WorldAccessibleSocketIsRefused)
{
    Share s = share_make("sock.mode");
    ASSERT_NO_FATAL_FAILURE(share_ready(s));
    ASSERT_EQ(chmod(s.socket.c_str(), 0666), 0);
    expect_viewer_refused(s, "socket-mode-unsafe");
}

// A socket owned by someone other than the share's owner: socket-owner-mismatch.
TEST_F(SocketE2E, SocketOwnedBySomeoneElseIsRefused)
{
    Share s = share_make("sock.owner");
    ASSERT_NO_FATAL_FAILURE(share_ready(s));
    ASSERT_EQ(lchown(s.socket.c_str(), user("other").uid, static_cast<gid_t>(-1)), 0);
    expect_viewer_refused(s, "socket-owner-mismatch");
}

// A symlink in the socket's path: path-symlink.
TEST_F(SocketE2E, SymlinkInSocketPathIsRefused)
{
    const std::string link = socket_dir_make("sym-dir", user("owner"));
    Share s = share_make("sock.symlink", link + "/sock.symlink");
    ASSERT_NO_FATAL_FAILURE(share_ready(s));
    const std::string real = path_prefix() + "/sym-dir-real";
    ASSERT_EQ(rename(link.c_str(), real.c_str()), 0);
    ASSERT_EQ(symlink("sym-dir-real", link.c_str()), 0);
    expect_viewer_refused(s, "path-symlink");
}

// A group-writable directory above the socket: path-unsafe-dir.
TEST_F(SocketE2E, GroupWritableParentIsRefused)
{
    const std::string dir = socket_dir_make("gw-dir", user("owner"));
    Share s = share_make("sock.gwdir", dir + "/sock.gwdir");
    ASSERT_NO_FATAL_FAILURE(share_ready(s));
    RunResult r = proc_run({"chmod", "g+w", dir});
    ASSERT_EQ(r.status, 0) << r.both();
    expect_viewer_refused(s, "path-unsafe-dir");
}

// An ACL entry giving another user rw on the socket: acl-overgrant.
TEST_F(SocketE2E, AclEntryForExtraUserIsRefused)
{
    Share s = share_make("sock.acl");
    ASSERT_NO_FATAL_FAILURE(share_ready(s));
    RunResult r = proc_run({"setfacl", "-m", "u:" + user("other").name + ":rw", s.socket});
    ASSERT_EQ(r.status, 0) << r.both();
    expect_viewer_refused(s, "acl-overgrant");
}

// A listener at the share's path whose peer uid is not the owner, with the
// socket itself looking right (owner, mode, ACL): peer-mismatch.
TEST_F(SocketE2E, ImpostorServerIsRefused)
{
    const Account& owner = user("owner");
    Share s = share_make("sock.peer");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("view", user("viewer").name, s)}));
    const std::string dir = fs::path(s.socket).parent_path();
    ASSERT_TRUE(fs::is_directory(dir))
        << "tmuxguard reload did not create the owner's runtime dir " << dir;
    pid_t listener = impostor_listen(s.socket, user("other"));
    ASSERT_GT(listener, 0) << "impostor listener did not start";
    helpers_.push_back(listener);
    ASSERT_EQ(chown(s.socket.c_str(), owner.uid, owner.gid), 0);
    ASSERT_EQ(chmod(s.socket.c_str(), 0600), 0);
    RunResult r = proc_run({"setfacl", "-m", "g:" + World::get().gate_group() + ":rw", s.socket});
    ASSERT_EQ(r.status, 0) << r.both();
    expect_viewer_refused(s, "peer-mismatch");
    expect_denied(attach_plain(user("viewer"), {s.name}), "peer-mismatch");
}

// A server killed with SIGKILL leaves its socket: server-not-running, and the
// attempt starts no server and no process of anyone.
TEST_F(SocketE2E, StaleSocketIsRefusedAndStartsNoServer)
{
    const Account& owner = user("owner");
    const Account& viewer = user("viewer");
    Share s = share_make("sock.stale");
    ASSERT_NO_FATAL_FAILURE(share_ready(s));
    ASSERT_EQ(kill(s.server_pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !proc_is_alive(s.server_pid); }));
    ASSERT_TRUE(wait_until([&] { return proc_list_by_uid(owner.uid).empty(); }))
        << "the owner's pane shell outlived the server";
    const ino_t inode = socket_inode(s.socket);
    ASSERT_NE(inode, 0u) << "SIGKILL removed the socket";

    expect_viewer_refused(s, "server-not-running");
    expect_denied(attach_plain(viewer, {s.name}), "server-not-running");
    expect_denied(attach_plain(owner, {s.name}), "server-not-running");
    EXPECT_TRUE(proc_list_by_uid(owner.uid).empty()) << "a process of the owner was started";
    EXPECT_TRUE(proc_list_by_uid(viewer.uid).empty()) << "a process of the viewer was left running";
    EXPECT_EQ(socket_inode(s.socket), inode) << "something re-created the socket";
}

}  // namespace tge2e
