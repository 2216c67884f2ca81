// Error values carried by every fallible function in libtmuxguard.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace tg {

// One failure: a stable kebab-case reason code (logged, tested, documented),
// the errno that caused it (0 if none), the path or name it concerns, and a
// short human explanation.
struct Error {
    std::string reason;
    int err = 0;
    std::string subject;
    std::string detail;

    // "reason: subject: detail: strerror(err)", omitting empty parts.
    [[nodiscard]] std::string message() const;
};

template <class T>
using Result = std::expected<T, Error>;

// Shorthand for `return tg::fail("path-symlink", errno, path);`.
[[nodiscard]] inline std::unexpected<Error> fail(std::string reason, int err = 0,
                                                 std::string subject = {},
                                                 std::string detail = {})
{
    return std::unexpected<Error>(
        Error{std::move(reason), err, std::move(subject), std::move(detail)});
}

}  // namespace tg
