// Placeholder: being written (issue 5).
#include "cli.hpp"

namespace tgcli {

int cmd_grant(const std::vector<std::string>& /*argv*/)
{
    err_line("grant", "not implemented yet");
    return kExitSystem;
}

int cmd_revoke(const std::vector<std::string>& /*argv*/)
{
    err_line("revoke", "not implemented yet");
    return kExitSystem;
}

}  // namespace tgcli
