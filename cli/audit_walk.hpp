// The one path walk of `tmuxguard audit`: from "/" by descriptor, nothing
// followed (STYLE.md 3), every directory on the way shown to the caller.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>

#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tgcli::audit {

// Called for every directory on the way, "/" first and the final
// component's parent last, with its O_PATH descriptor and fstat.
using WalkVisit = std::function<void(int fd, const struct stat& st)>;

// Opens the absolute `path` one component at a time with
// openat(O_PATH|O_NOFOLLOW|O_CLOEXEC), fstat-ing each descriptor; returns
// the final object's descriptor with its fstat in `st`. Reasons:
// "path-invalid" (not absolute, "." or ".." or empty components),
// "path-too-deep" (more than kMaxPathComponents), "path-missing" (ENOENT),
// "path-denied" (EACCES/EPERM), "path-symlink" (any component, the last
// included), "path-not-dir" (a non-directory before the end),
// "path-error" (anything else, errno kept). `detail` is a short phrase.
[[nodiscard]] tg::Result<tg::UniqueFd> audit_walk(const std::string& path, const WalkVisit* visit,
                                                  struct stat& st);

}  // namespace tgcli::audit
