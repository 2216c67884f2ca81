// Being written (issue 5): see the header.
#include "tmuxguard/acl_eval.hpp"
