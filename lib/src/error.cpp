#include "tmuxguard/error.hpp"

#include <cstring>

namespace tg {

std::string Error::message() const
{
    std::string out = reason;
    auto add = [&out](const std::string& part) {
        if (part.empty())
            return;
        if (!out.empty())
            out += ": ";
        out += part;
    };
    add(subject);
    add(detail);
    if (err != 0)
        add(std::strerror(err));
    return out;
}

}  // namespace tg
