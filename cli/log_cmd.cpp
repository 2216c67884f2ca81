// Placeholder: being written (issue 5).
#include "cli.hpp"

namespace tgcli {

int cmd_log(const std::vector<std::string>& /*argv*/)
{
    err_line("log", "not implemented yet");
    return kExitSystem;
}

}  // namespace tgcli
