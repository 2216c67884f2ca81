// Connecting through /proc/self/fd/N and SO_PEERCRED (peer.hpp), against
// real listeners served by forked children that became a chosen uid before
// listen(). Needs root (setresuid to arbitrary numeric uids).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tmuxguard/acl.hpp"
#include "tmuxguard/pathwalk.hpp"
#include "tmuxguard/peer.hpp"
#include "support.hpp"

namespace {

constexpr uid_t kOwner = 4242424;
constexpr uid_t kOtherUser = 4242425;
constexpr gid_t kGate = 4242400;

using tgtest::expect_refused;
using tgtest::fd_number_closed;
using tgtest::path_open;

struct sockaddr_un unix_addr(const std::string& path)
{
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof addr.sun_path));
    return addr;
}

// A bound AF_UNIX stream socket in this process (root); listening if asked.
tg::UniqueFd socket_bind(const std::string& path, bool listening)
{
    const struct sockaddr_un addr = unix_addr(path);
    tg::UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::bind(s.get(), reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr) != 0 ||
        (listening && ::listen(s.get(), 8) != 0))
        s.reset();
    return s;
}

// A listening socket at `path` served by a forked child that binds it (as
// root), chowns it to `uid`, becomes `uid` and only then listens, so
// SO_PEERCRED names `uid` and the child's pid. The child never accepts; it
// lives until this object is destroyed.
class ChildListener {
public:
    ChildListener(const std::string& path, uid_t uid) { start(path, uid); }
    ChildListener(const ChildListener&) = delete;
    ChildListener& operator=(const ChildListener&) = delete;
    ~ChildListener()
    {
        release_.reset();  // EOF on the child's pipe: it exits
        int status = 0;
        if (pid_ > 0)
            ::waitpid(pid_, &status, 0);
    }
    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] bool ready() const { return ready_; }

private:
    void start(const std::string& path, uid_t uid)
    {
        int ready[2];
        int release[2];
        if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(release, O_CLOEXEC) != 0)
            return;
        pid_ = ::fork();
        if (pid_ == 0)
            serve(path, uid, ready[1], release[0]);
        ::close(ready[1]);
        ::close(release[0]);
        release_.reset(release[1]);
        char c = 0;
        ready_ = pid_ > 0 && ::read(ready[0], &c, 1) == 1;
        ::close(ready[0]);
    }
    // Closes every descriptor from 3 up but two, so that no copy of another
    // listener's (or our own) release pipe keeps a child alive.
    static void fds_close_except(int a, int b)
    {
        if (a > b)
            std::swap(a, b);
        ::close_range(3, static_cast<unsigned>(a) - 1, 0);  // EINVAL when empty: fine
        ::close_range(static_cast<unsigned>(a) + 1, static_cast<unsigned>(b) - 1, 0);
        ::close_range(static_cast<unsigned>(b) + 1, ~0U, 0);
    }
    [[noreturn]] static void serve(const std::string& path, uid_t uid, int ready, int release)
    {
        fds_close_except(ready, release);
        const struct sockaddr_un addr = unix_addr(path);
        const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0 || ::bind(s, reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr) != 0 ||
            ::chown(path.c_str(), uid, uid) != 0 || ::setgroups(0, nullptr) != 0 ||
            ::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0 ||
            ::listen(s, 8) != 0 || ::write(ready, "1", 1) != 1)
            ::_exit(1);
        char c = 0;
        while (::read(release, &c, 1) > 0) {
        }
        ::_exit(0);
    }

    pid_t pid_ = -1;
    bool ready_ = false;
    tg::UniqueFd release_;
};

// A root-owned 0755 temp dir under /var/lib, removed in TearDown; the
// socket under test is ROOT/sock.
class Peer : public tgtest::RootTree {
protected:
    Peer() : RootTree("listeners run as other uids") {}
    void SetUp() override
    {
        RootTree::SetUp();
        if (HasFatalFailure())
            return;
        path_ = at("sock");
    }

    std::string path_;
};

TEST_F(Peer, ListenerOfTheOwnerGivesItsPidAndUid)
{
    ChildListener server(path_, kOwner);
    ASSERT_TRUE(server.ready());
    tg::UniqueFd fd = path_open(path_);
    auto peer = tg::peer_verify(fd.get(), kOwner);
    ASSERT_TRUE(peer.has_value()) << peer.error().message();
    EXPECT_EQ(peer->pid, server.pid());
    EXPECT_EQ(peer->uid, kOwner);
    EXPECT_EQ(peer->gid, static_cast<gid_t>(kOwner));
}

TEST_F(Peer, ListenerOfAnotherUidIsPeerMismatch)
{
    ChildListener server(path_, kOtherUser);
    ASSERT_TRUE(server.ready());
    tg::UniqueFd fd = path_open(path_);
    expect_refused(tg::peer_verify(fd.get(), kOwner), "peer-mismatch");
}

TEST_F(Peer, BoundButNotListeningIsServerNotRunning)
{
    tg::UniqueFd stale = socket_bind(path_, false);
    ASSERT_TRUE(stale.valid());
    tg::UniqueFd fd = path_open(path_);
    expect_refused(tg::peer_verify(fd.get(), kOwner), "server-not-running");
}

TEST_F(Peer, SocketReplacedAtThePathIsNotReachedThroughTheOldDescriptor)
{
    tg::UniqueFd first = socket_bind(path_, true);
    ASSERT_TRUE(first.valid());
    tg::UniqueFd checked = path_open(path_);
    first.reset();
    ASSERT_EQ(::unlink(path_.c_str()), 0);
    ChildListener newcomer(path_, kOwner);  // same path, same uid: a path connect would succeed
    ASSERT_TRUE(newcomer.ready());

    expect_refused(tg::peer_verify(checked.get(), kOwner), "server-not-running");
    tg::UniqueFd fresh = path_open(path_);
    auto peer = tg::peer_verify(fresh.get(), kOwner);
    ASSERT_TRUE(peer.has_value()) << peer.error().message();
    EXPECT_EQ(peer->pid, newcomer.pid());
}

TEST_F(Peer, ConnectReachesTheCheckedInodeEvenAfterItsNameIsTaken)
{
    ChildListener owner_server(path_, kOwner);
    ASSERT_TRUE(owner_server.ready());
    tg::UniqueFd checked = path_open(path_);
    ASSERT_EQ(::unlink(path_.c_str()), 0);
    ChildListener impostor(path_, kOtherUser);
    ASSERT_TRUE(impostor.ready());

    auto peer = tg::peer_verify(checked.get(), kOwner);
    ASSERT_TRUE(peer.has_value()) << peer.error().message();
    EXPECT_EQ(peer->pid, owner_server.pid());
}

// A closed descriptor number would be reused by peer_verify's own socket,
// which would then "connect" to itself; it must be refused up front.
TEST_F(Peer, ClosedOrNonSocketDescriptorIsConnectFailed)
{
    const int closed = fd_number_closed();
    auto r = tg::peer_verify(closed, kOwner);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason, "connect-failed") << r.error().message();
    EXPECT_EQ(r.error().err, EBADF);
    tg::UniqueFd file = path_open("/dev/null");
    expect_refused(tg::peer_verify(file.get(), kOwner), "connect-failed");
}

// Without /proc the descriptor cannot be named: ENOENT, "socket-missing".
// The child unmounts /proc in a private mount namespace of its own only.
TEST_F(Peer, ProcMissingIsSocketMissing)
{
    tg::UniqueFd listener = socket_bind(path_, true);
    ASSERT_TRUE(listener.valid());
    tg::UniqueFd fd = path_open(path_);
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::umount2("/proc", MNT_DETACH) != 0)
            ::_exit(2);
        auto r = tg::peer_verify(fd.get(), 0);
        ::_exit(!r.has_value() && r.error().reason == "socket-missing" ? 0 : 1);
    }
    int status = -1;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
}

TEST_F(Peer, FullBacklogTimesOutInsteadOfHanging)
{
    const struct sockaddr_un addr = unix_addr(path_);
    tg::UniqueFd listener = socket_bind(path_, false);
    ASSERT_TRUE(listener.valid());
    ASSERT_EQ(::listen(listener.get(), 0), 0);
    std::vector<tg::UniqueFd> queued;  // never accepted: they fill the backlog
    for (int i = 0; i < 16; ++i) {
        tg::UniqueFd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (::connect(c.get(), reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr) != 0)
            break;
        queued.push_back(std::move(c));
    }
    tg::UniqueFd fd = path_open(path_);
    ::alarm(20);  // a connect without a timeout would kill this binary: a failure, not a hang
    auto r = tg::peer_verify(fd.get(), 0);
    ::alarm(0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason, "connect-failed") << r.error().message();
    EXPECT_EQ(r.error().err, EAGAIN) << r.error().message();
}

TEST_F(Peer, WrapperSteps7And8_VerifiedSocketReachesItsOwner)
{
    const std::string dir = root_ + "/owner";
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    ASSERT_EQ(::chown(dir.c_str(), kOwner, kOwner), 0);
    ChildListener server(dir + "/share", kOwner);
    ASSERT_TRUE(server.ready());
    tg::UniqueFd raw = path_open(dir + "/share");
    ASSERT_TRUE(tg::acl_apply_socket(raw.get(), kGate).has_value());

    auto fd = tg::socket_open_verified(dir + "/share", kOwner, kGate);
    ASSERT_TRUE(fd.has_value()) << fd.error().message();
    auto peer = tg::peer_verify(fd->get(), kOwner);
    ASSERT_TRUE(peer.has_value()) << peer.error().message();
    EXPECT_EQ(peer->pid, server.pid());
}

}  // namespace
