// Account and group lookups through NSS (the CLI may use LDAP/SSSD; the
// static wrapper never does: it reads the numbers reload compiled).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "tmuxguard/compiled.hpp"

namespace tgcli {

// One passwd entry.
struct Account {
    uid_t uid = 0;
    gid_t gid = 0;
    std::string name;
    std::string home;
    std::string shell;
};

// tg::Resolver backed by getpwnam_r / getgrnam_r / getpwuid_r.
class NssResolver final : public tg::Resolver {
public:
    std::optional<uid_t> user_id(const std::string& name) override;
    std::optional<gid_t> group_id(const std::string& name) override;
    std::optional<tg::AccountInfo> account(uid_t uid) override;
};

// getpwnam_r.
[[nodiscard]] std::optional<Account> nss_account_by_name(const std::string& name);

// getpwuid_r.
[[nodiscard]] std::optional<Account> nss_account_by_uid(uid_t uid);

// Every group of the account, primary first (getgrouplist).
[[nodiscard]] std::vector<gid_t> nss_account_groups(const Account& a);

// Every passwd entry (getpwent), read once per process.
[[nodiscard]] const std::vector<Account>& nss_all_accounts();

// Names of a group's members: gr_mem of getgrgid_r plus every account whose
// primary group it is.
[[nodiscard]] std::vector<std::string> nss_group_members(gid_t gid);

// UID_MIN of /etc/login.defs, 1000 when absent or unreadable.
[[nodiscard]] uid_t nss_uid_min();

}  // namespace tgcli
