#include "nss.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tgcli {

namespace {

// NSS buffers grow on ERANGE up to this size (large LDAP groups).
constexpr std::size_t kMaxNssBuffer = 16U << 20U;
constexpr uid_t kDefaultUidMin = 1000;

Account account_from_passwd(const struct passwd& pw)
{
    return Account{pw.pw_uid, pw.pw_gid, pw.pw_name, pw.pw_dir ? pw.pw_dir : "",
                   pw.pw_shell ? pw.pw_shell : ""};
}

// Calls `lookup(buf, size)` (a *_r function returning an errno value) with a
// growing buffer; true when an entry was found.
template <class Lookup>
bool nss_lookup_retry(std::vector<char>& buf, Lookup lookup)
{
    buf.resize(4096);
    for (;;) {
        int rc = lookup(buf.data(), buf.size());
        if (rc != ERANGE)
            return rc == 0;
        if (buf.size() * 2 > kMaxNssBuffer)
            return false;
        buf.resize(buf.size() * 2);
    }
}

}  // namespace

std::optional<uid_t> NssResolver::user_id(const std::string& name)
{
    std::optional<Account> a = nss_account_by_name(name);
    if (!a)
        return std::nullopt;
    return a->uid;
}

std::optional<gid_t> NssResolver::group_id(const std::string& name)
{
    struct group gr {};
    struct group* res = nullptr;
    std::vector<char> buf;
    bool found = nss_lookup_retry(buf, [&](char* b, std::size_t n) {
        return ::getgrnam_r(name.c_str(), &gr, b, n, &res);
    });
    if (!found || res == nullptr)
        return std::nullopt;
    return gr.gr_gid;
}

std::optional<tg::AccountInfo> NssResolver::account(uid_t uid)
{
    std::optional<Account> a = nss_account_by_uid(uid);
    if (!a)
        return std::nullopt;
    return tg::AccountInfo{a->uid, a->name, a->home, a->shell};
}

// getpwnam_r with a growing buffer.
std::optional<Account> nss_account_by_name(const std::string& name)
{
    struct passwd pw {};
    struct passwd* res = nullptr;
    std::vector<char> buf;
    bool found = nss_lookup_retry(buf, [&](char* b, std::size_t n) {
        return ::getpwnam_r(name.c_str(), &pw, b, n, &res);
    });
    if (!found || res == nullptr)
        return std::nullopt;
    return account_from_passwd(pw);
}

// getpwuid_r with a growing buffer.
std::optional<Account> nss_account_by_uid(uid_t uid)
{
    struct passwd pw {};
    struct passwd* res = nullptr;
    std::vector<char> buf;
    bool found = nss_lookup_retry(buf, [&](char* b, std::size_t n) {
        return ::getpwuid_r(uid, &pw, b, n, &res);
    });
    if (!found || res == nullptr)
        return std::nullopt;
    return account_from_passwd(pw);
}

// getgrouplist, growing the array until it fits.
std::vector<gid_t> nss_account_groups(const Account& a)
{
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 8; ++attempt) {
        int n = static_cast<int>(groups.size());
        if (::getgrouplist(a.name.c_str(), a.gid, groups.data(), &n) >= 0) {
            groups.resize(static_cast<std::size_t>(n));
            return groups;
        }
        groups.resize(static_cast<std::size_t>(n) > groups.size() ? static_cast<std::size_t>(n)
                                                                 : groups.size() * 2);
    }
    return {a.gid};
}

// setpwent / getpwent / endpwent, cached for the life of the process.
const std::vector<Account>& nss_all_accounts()
{
    static std::vector<Account> all;
    static bool loaded = false;
    if (loaded)
        return all;
    loaded = true;
    ::setpwent();
    while (struct passwd* pw = ::getpwent())
        all.push_back(account_from_passwd(*pw));
    ::endpwent();
    return all;
}

// gr_mem, then the accounts whose primary group is `gid`.
std::vector<std::string> nss_group_members(gid_t gid)
{
    std::vector<std::string> names;
    struct group gr {};
    struct group* res = nullptr;
    std::vector<char> buf;
    bool found = nss_lookup_retry(buf, [&](char* b, std::size_t n) {
        return ::getgrgid_r(gid, &gr, b, n, &res);
    });
    if (found && res != nullptr) {
        for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; ++m)
            names.emplace_back(*m);
    }
    for (const Account& a : nss_all_accounts()) {
        if (a.gid == gid)
            names.push_back(a.name);
    }
    return names;
}

// "UID_MIN 1000" in /etc/login.defs.
uid_t nss_uid_min()
{
    std::ifstream in("/etc/login.defs");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key;
        std::string value;
        if (!(words >> key >> value) || key != "UID_MIN")
            continue;
        char* end = nullptr;
        errno = 0;
        unsigned long v = std::strtoul(value.c_str(), &end, 10);
        if (errno == 0 && end != value.c_str() && *end == '\0' && v <= UINT_MAX)
            return static_cast<uid_t>(v);
    }
    return kDefaultUidMin;
}

}  // namespace tgcli
