// Placeholder: being written (issue 5).
#include "cli.hpp"

namespace tgcli {

int cmd_lint(const std::vector<std::string>& /*argv*/)
{
    err_line("lint", "not implemented yet");
    return kExitSystem;
}

}  // namespace tgcli
