// Placeholder: being written (issue 5).
#include "cli.hpp"

namespace tgcli {

int cmd_clients(const std::vector<std::string>& /*argv*/)
{
    err_line("clients", "not implemented yet");
    return kExitSystem;
}

}  // namespace tgcli
