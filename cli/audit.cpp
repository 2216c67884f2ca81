// Placeholder: being written (issue 5).
#include "cli.hpp"

namespace tgcli {

int cmd_audit(const std::vector<std::string>& /*argv*/)
{
    err_line("audit", "not implemented yet");
    return kExitSystem;
}

}  // namespace tgcli
