// Being written (issue 5): see the header.
#include "tmuxguard/tmux_lint.hpp"
