// PAM end-to-end support (pam_support.hpp).
#include "pam_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <thread>
#include <utility>

#include <security/pam_appl.h>

#include "harness.hpp"
#include "tmuxguard/paths.hpp"

namespace tge2e {
namespace fs = std::filesystem;

namespace {

// What syslog_mark() sends, before the mark's name.
constexpr const char* kMarkPrefix = "tg-capture-mark: ";
// What the probe's pam_exec says when the module before it returned PAM_IGNORE.
constexpr const char* kIgnoreMarker = "tg-probe:PAM_IGNORE";
// Device nodes a PAM host and the tmux it runs may open.
constexpr const char* kDevNodes[] = {"null", "zero", "full", "random", "urandom", "tty", "ptmx"};
constexpr std::pair<const char*, const char*> kDevLinks[] = {{"fd", "/proc/self/fd"},
                                                            {"stdin", "/proc/self/fd/0"},
                                                            {"stdout", "/proc/self/fd/1"},
                                                            {"stderr", "/proc/self/fd/2"}};

// ---------------------------------------------------------------- conversation

// Records what a module shows; answers no prompt (the module asks nothing).
int conv_record(int n, const struct pam_message** msg, struct pam_response** resp, void* data)
{
    auto* said = static_cast<std::vector<std::string>*>(data);
    for (int i = 0; i < n; ++i) {
        const int style = msg[i]->msg_style;
        if (style != PAM_TEXT_INFO && style != PAM_ERROR_MSG)
            return PAM_CONV_ERR;
        said->push_back(msg[i]->msg != nullptr ? msg[i]->msg : "");
    }
    *resp = static_cast<struct pam_response*>(std::calloc(static_cast<std::size_t>(n),
                                                          sizeof(struct pam_response)));
    return *resp != nullptr ? PAM_SUCCESS : PAM_BUF_ERR;
}

// ---------------------------------------------------------------- the child's /dev

// O_PATH descriptors of the real device nodes and /dev/pts, opened before
// /dev is covered; bound back from /proc/self/fd/N.
struct DevKeep {
    std::vector<std::pair<std::string, int>> fds;
};

// What failed, with errno's text.
std::string step_error(const std::string& what)
{
    return what + ": " + std::strerror(errno);
}

// Opens the nodes to keep; "" or what failed.
std::string dev_keep_open(DevKeep& keep)
{
    for (const char* n : kDevNodes) {
        int fd = ::open(("/dev/" + std::string(n)).c_str(), O_PATH | O_CLOEXEC);
        if (fd < 0)
            return step_error(std::string("open /dev/") + n);
        keep.fds.emplace_back(n, fd);
    }
    int pts = ::open("/dev/pts", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pts < 0)
        return step_error("open /dev/pts");
    keep.fds.emplace_back("pts", pts);
    return {};
}

// Binds the kept node `fd` at /dev/NAME (a file or directory made for it).
std::string dev_bind(const std::string& name, int fd)
{
    const std::string target = "/dev/" + name;
    if (name == "pts") {
        if (::mkdir(target.c_str(), 0755) != 0)
            return step_error("mkdir " + target);
    } else {
        int t = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (t < 0)
            return step_error("create " + target);
        ::close(t);
    }
    const std::string source = "/proc/self/fd/" + std::to_string(fd);
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
        return step_error("bind " + target);
    return {};
}

// A private mount namespace whose /dev is a tmpfs with the kept nodes;
// "" or what failed.
std::string dev_private_make()
{
    if (::unshare(CLONE_NEWNS) != 0)
        return step_error("unshare(CLONE_NEWNS)");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return step_error("make / private");
    // Opened in the new namespace: a bind source must be one of its mounts.
    DevKeep keep;
    if (std::string e = dev_keep_open(keep); !e.empty())
        return e;
    if (::mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=0755") != 0)
        return step_error("mount tmpfs on /dev");
    for (const auto& [name, fd] : keep.fds) {
        if (std::string e = dev_bind(name, fd); !e.empty())
            return e;
        ::close(fd);
    }
    for (const auto& [name, to] : kDevLinks) {
        if (::symlink(to, (std::string("/dev/") + name).c_str()) != 0)
            return step_error(std::string("symlink /dev/") + name);
    }
    return {};
}

// A datagram socket bound at /dev/log that anyone may send to; -1 on error.
int devlog_bind()
{
    int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa {};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, "/dev/log");
    if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::chmod("/dev/log", 0666) != 0)
        return -1;
    return s;
}

// ---------------------------------------------------------------- child <-> parent

// Frames: kind byte, u32 length, key, u32 length, value.
void frame_put(std::string& out, char kind, const std::string& key, const std::string& value)
{
    out += kind;
    for (const std::string* s : {&key, &value}) {
        auto n = static_cast<std::uint32_t>(s->size());
        out.append(reinterpret_cast<const char*>(&n), sizeof n);
        out += *s;
    }
}

// Takes one frame off the front of `in`; false when none is left whole.
bool frame_take(std::string_view& in, char& kind, std::string& key, std::string& value)
{
    if (in.empty())
        return false;
    kind = in[0];
    in.remove_prefix(1);
    for (std::string* s : {&key, &value}) {
        std::uint32_t n = 0;
        if (in.size() < sizeof n)
            return false;
        std::memcpy(&n, in.data(), sizeof n);
        in.remove_prefix(sizeof n);
        if (in.size() < n)
            return false;
        s->assign(in.substr(0, n));
        in.remove_prefix(n);
    }
    return true;
}

// Writes all of `data` (the parent reads while we write).
void fd_write_all(int fd, const std::string& data)
{
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        done += static_cast<std::size_t>(n);
    }
}

// The log sink, a process of its own: reads the datagrams at /dev/log as
// they come (the kernel queues only net.unix.max_dgram_qlen of them, then
// blocks the sender), and once `stop_fd` reads EOF, takes what is queued and
// writes it to `out_fd` as 'L' frames. A process and not a thread: the PAM
// host under test stays single-threaded, as login and sshd are.
[[noreturn]] void sink_run(int sock, int stop_fd, int out_fd)
{
    std::string out;
    char buf[16384];
    pollfd fds[2] = {{sock, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    bool stopping = false;
    while (!stopping) {
        if (::poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        stopping = fds[1].revents != 0;
        // On stop every sender has returned from syslog(3): its line is queued.
        for (ssize_t n; (n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
            frame_put(out, 'L', {}, std::string(buf, static_cast<std::size_t>(n)));
    }
    fd_write_all(out_fd, out);
    ::_exit(0);
}

// The child: private /dev/log, the sink, `fn`, then everything framed onto
// `out_fd`. Returns the exit status.
int capture_child(const std::function<void(Report&)>& fn, int out_fd)
{
    std::string out;
    closelog();  // a descriptor inherited from the test would reach the real /dev/log
    if (std::string e = dev_private_make(); !e.empty()) {
        frame_put(out, 'P', "setup", e);
        fd_write_all(out_fd, out);
        return 10;
    }
    int sock = devlog_bind();
    int stop[2] = {-1, -1};
    if (sock < 0 || ::pipe2(stop, O_CLOEXEC) != 0) {
        frame_put(out, 'P', "setup", step_error("bind /dev/log"));
        fd_write_all(out_fd, out);
        return 11;
    }
    pid_t sink = ::fork();
    if (sink == 0) {
        ::close(stop[1]);
        sink_run(sock, stop[0], out_fd);
    }
    ::close(sock);
    ::close(stop[0]);
    Report report;
    int status = sink < 0 ? 13 : 0;
    try {
        fn(report);
    } catch (const std::exception& e) {
        frame_put(out, 'P', "exception", e.what());
        status = 12;
    }
    ::close(stop[1]);
    int ws = 0;
    while (sink > 0 && ::waitpid(sink, &ws, 0) < 0 && errno == EINTR) {
    }
    for (const auto& [k, v] : report)
        frame_put(out, 'R', k, v);
    fd_write_all(out_fd, out);  // after the sink's frames: it has exited
    return status;
}

// Reads `fd` to EOF, or until `deadline`.
std::string fd_read_until(int fd, std::chrono::steady_clock::time_point deadline)
{
    std::string data;
    char buf[16384];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return data;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            continue;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return data;
        data.append(buf, static_cast<std::size_t>(n));
    }
}

// "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE" ([PID] with LOG_PID only), as
// glibc's syslog(3) sends it.
SyslogLine syslog_parse(const std::string& raw)
{
    SyslogLine l;
    l.raw = raw;
    std::size_t gt = raw.find('>');
    if (raw.empty() || raw[0] != '<' || gt == std::string::npos)
        return l;
    int pri = std::atoi(raw.substr(1, gt - 1).c_str());
    l.facility = pri >> 3;
    l.severity = pri & 7;
    // The timestamp ("Nov 25 16:15:55 ") has colons but no ": ".
    std::size_t colon = raw.find(": ", gt);
    l.message = colon == std::string::npos ? raw.substr(gt + 1) : raw.substr(colon + 2);
    return l;
}

const char* severity_name(int s)
{
    static constexpr const char* kNames[] = {"EMERG",   "ALERT",  "CRIT", "ERR",
                                             "WARNING", "NOTICE", "INFO", "DEBUG"};
    return s >= 0 && s < 8 ? kNames[s] : "?";
}

}  // namespace

// ---------------------------------------------------------------- paths and names

std::string pam_module_path()
{
    return std::string(tg::paths::pam_module_dir) + "/pam_tmuxguard.so";
}

std::string pam_fault_module_path()
{
    return TG_PAM_FAULT_MODULE;
}

std::string pam_code_name(int rc)
{
    switch (rc) {
    case PAM_SUCCESS: return "PAM_SUCCESS";
    case PAM_OPEN_ERR: return "PAM_OPEN_ERR";
    case PAM_SYMBOL_ERR: return "PAM_SYMBOL_ERR";
    case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
    case PAM_SYSTEM_ERR: return "PAM_SYSTEM_ERR";
    case PAM_BUF_ERR: return "PAM_BUF_ERR";
    case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
    case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
    case PAM_SESSION_ERR: return "PAM_SESSION_ERR";
    case PAM_ABORT: return "PAM_ABORT";
    case PAM_IGNORE: return "PAM_IGNORE";
    case PAM_MODULE_UNKNOWN: return "PAM_MODULE_UNKNOWN";
    default: return "PAM_#" + std::to_string(rc);
    }
}

// ---------------------------------------------------------------- PamTree

PamTree::PamTree()
{
    std::string tmpl = path_scratch() + "/pam-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
        return;
    }
    // 0755: the users' tmux must reach RUNTIME/UID below it.
    if (::chown(tmpl.c_str(), 0, 0) != 0 || ::chmod(tmpl.c_str(), 0755) != 0 ||
        ::mkdir((tmpl + "/pam.d").c_str(), 0755) != 0) {
        ADD_FAILURE() << tmpl << ": " << std::strerror(errno);
        return;
    }
    root_ = tmpl;
}

PamTree::~PamTree()
{
    if (root_.empty())
        return;
    std::error_code ec;
    fs::remove_all(root_, ec);
    EXPECT_FALSE(ec) << "removing " << root_ << ": " << ec.message();
}

std::string PamTree::user_dir(uid_t uid) const
{
    return runtime() + "/" + std::to_string(uid);
}

void PamTree::service_write(const std::string& service, const std::string& args,
                            const std::string& module) const
{
    const std::string probe = std::string("pam_exec.so stdout quiet /bin/echo ") + kIgnoreMarker;
    service_write_lines(service, {"session [success=done ignore=ignore default=die] " + module +
                                      (args.empty() ? "" : " " + args),
                                  "session optional " + probe, "session required pam_permit.so"});
}

void PamTree::service_write_lines(const std::string& service,
                                  const std::vector<std::string>& lines) const
{
    std::string text;
    for (const auto& l : lines)
        text += l + "\n";
    const std::string path = confdir() + "/" + service;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
    ssize_t n = ::write(fd, text.data(), text.size());
    ::close(fd);
    ASSERT_EQ(n, static_cast<ssize_t>(text.size())) << path;
}

// ---------------------------------------------------------------- PamHandle

PamHandle::PamHandle(const std::string& confdir, const std::string& service, const char* user)
{
    conv_.conv = conv_record;
    conv_.appdata_ptr = &said_;
    start_rc_ = pam_start_confdir(service.c_str(), user, &conv_, confdir.c_str(), &h_);
}

PamHandle::~PamHandle()
{
    if (h_ != nullptr)
        pam_end(h_, PAM_SUCCESS);
}

std::string PamHandle::call(int (*fn)(pam_handle_t*, int))
{
    if (h_ == nullptr)
        return "no handle (pam_start_confdir: " + started() + ")";
    said_.clear();
    int rc = fn(h_, 0);
    bool ignored = false;
    for (const auto& s : said_)
        ignored = ignored || s == kIgnoreMarker;
    return rc == PAM_SUCCESS && ignored ? "PAM_IGNORE" : pam_code_name(rc);
}

std::string PamHandle::open()
{
    return call(pam_open_session);
}

std::string PamHandle::close()
{
    return call(pam_close_session);
}

std::string PamHandle::env(const char* name) const
{
    const char* v = h_ != nullptr ? pam_getenv(h_, name) : nullptr;
    return v != nullptr ? v : "<unset>";
}

void pam_login(Report& r, const std::string& confdir, const std::string& service,
               const std::string& user, const std::string& prefix)
{
    PamHandle h(confdir, service, user.c_str());
    r[prefix + "open"] = h.open();
    r[prefix + "env"] = h.env("TMUX_TMPDIR");
    if (r[prefix + "open"] == "PAM_SUCCESS")
        r[prefix + "close"] = h.close();
    else
        pam_close_only(r, confdir, service, user, prefix);
}

void pam_open_only(Report& r, const std::string& confdir, const std::string& service,
                   const std::string& user, const std::string& prefix)
{
    PamHandle h(confdir, service, user.c_str());
    r[prefix + "open"] = h.open();
    r[prefix + "env"] = h.env("TMUX_TMPDIR");
}

void pam_close_only(Report& r, const std::string& confdir, const std::string& service,
                    const std::string& user, const std::string& prefix)
{
    PamHandle h(confdir, service, user.c_str());
    r[prefix + "close"] = h.close();
}

// ---------------------------------------------------------------- capture

std::string Captured::get(const std::string& key) const
{
    auto it = report.find(key);
    return it == report.end() ? "<missing>" : it->second;
}

std::vector<ModuleLine> Captured::module_lines(const std::string& service,
                                               const std::string& module) const
{
    const std::string prefix = module + "(" + service + ":session): ";
    std::vector<ModuleLine> out;
    for (const auto& l : lines) {
        if (l.message.rfind(prefix, 0) != 0)
            continue;
        out.push_back({l.facility == LOG_AUTHPRIV >> 3 ? l.severity : -1,
                       l.message.substr(prefix.size())});
    }
    return out;
}

Captured Captured::after(const std::string& mark) const
{
    Captured out = *this;
    auto it = std::find_if(lines.begin(), lines.end(),
                           [&](const SyslogLine& l) { return l.message == kMarkPrefix + mark; });
    out.lines.assign(it == lines.end() ? lines.end() : it + 1, lines.end());
    return out;
}

Captured Captured::before(const std::string& mark) const
{
    Captured out = *this;
    auto it = std::find_if(lines.begin(), lines.end(),
                           [&](const SyslogLine& l) { return l.message == kMarkPrefix + mark; });
    out.lines.assign(lines.begin(), it);
    return out;
}

void syslog_mark(const std::string& mark)
{
    ::syslog(LOG_USER | LOG_INFO, "%s%s", kMarkPrefix, mark.c_str());
}

std::string Captured::dump() const
{
    std::string s = "child status " + std::to_string(status);
    if (!problem.empty())
        s += ", problem: " + problem;
    s += "\nreport:\n";
    for (const auto& [k, v] : report)
        s += "  " + k + " = " + v + "\n";
    s += "syslog:\n";
    for (const auto& l : lines)
        s += "  " + l.raw + "\n";
    return s;
}

Captured syslog_capture(const std::function<void(Report&)>& fn, std::chrono::milliseconds timeout)
{
    Captured c;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
        c.problem = step_error("pipe2");
        return c;
    }
    std::fflush(nullptr);  // nothing buffered is written twice
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p[0]);
        ::_exit(capture_child(fn, p[1]));
    }
    ::close(p[1]);
    if (pid < 0) {
        ::close(p[0]);
        c.problem = step_error("fork");
        return c;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string data = fd_read_until(p[0], deadline);
    ::close(p[0]);
    int ws = 0;
    while (::waitpid(pid, &ws, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &ws, 0);
            c.problem = "timed out after " + std::to_string(timeout.count()) + " ms";
            break;
        }
        std::this_thread::sleep_for(5ms);
    }
    c.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    std::string_view in = data;
    char kind = 0;
    std::string key, value;
    while (frame_take(in, kind, key, value)) {
        if (kind == 'R')
            c.report[key] = value;
        else if (kind == 'L')
            c.lines.push_back(syslog_parse(value));
        else
            c.problem += (c.problem.empty() ? "" : "; ") + key + ": " + value;
    }
    return c;
}

// ---------------------------------------------------------------- files

std::string acl_entries(const std::string& path)
{
    RunResult r = proc_run({"getfacl", "-c", "-p", "-P", "-E", path});
    if (r.status != 0)
        return "getfacl failed: " + r.both();
    std::string out;
    for (const auto& line : split_lines(r.out)) {
        if (!line.empty() && line[0] != '#')
            out += line + "\n";
    }
    return out;
}

std::string module_lines_text(const std::vector<ModuleLine>& lines)
{
    std::string s;
    for (const auto& l : lines)
        s += std::string("  <") + severity_name(l.severity) + "> " + l.text + "\n";
    return s;
}

void PrintTo(const ModuleLine& line, std::ostream* os)
{
    *os << "<" << severity_name(line.severity) << "> " << line.text;
}

}  // namespace tge2e
