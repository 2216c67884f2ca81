// Being written (issue 5): see the header.
#include "tmuxguard/log_chain.hpp"
