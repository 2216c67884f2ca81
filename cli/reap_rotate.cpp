// Placeholder: being written (issue 5).
#include "cli.hpp"

namespace tgcli {

int cmd_reap(const std::vector<std::string>& /*argv*/)
{
    err_line("reap", "not implemented yet");
    return kExitSystem;
}

int cmd_rotate(const std::vector<std::string>& /*argv*/)
{
    err_line("rotate", "not implemented yet");
    return kExitSystem;
}

}  // namespace tgcli
