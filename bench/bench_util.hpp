// Small helpers the plain-C++ benchmark programs share: a monotonic clock,
// nearest-rank percentiles, and dying with a message (a broken set-up must
// never pass for a fast one).
#pragma once

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// The program's name in messages; set by main() first.
inline const char* g_program = "tg_bench";

[[noreturn]] inline void die(const std::string& what)
{
    std::fprintf(stderr, "%s: %s\n", g_program, what.c_str());
    std::exit(1);
}

[[noreturn]] inline void die_errno(const std::string& what)
{
    die(what + ": " + std::strerror(errno));
}

inline std::int64_t now_ns()
{
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Nearest rank; p in [0, 100]; v must not be empty.
inline double percentile(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    std::size_t rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// One line of the shape every program prints for one variant, microseconds.
inline void samples_print(const char* name, const std::vector<double>& us)
{
    std::printf("%-10s samples=%zu median_us=%.1f p10_us=%.1f p90_us=%.1f min_us=%.1f max_us=%.1f\n",
                name, us.size(), percentile(us, 50), percentile(us, 10), percentile(us, 90),
                percentile(us, 0), percentile(us, 100));
}

// "--NAME=VALUE": the value into `out`, true; anything else: false.
inline bool option_take(std::string_view arg, std::string_view name, std::string& out)
{
    if (!arg.starts_with("--") || !arg.substr(2).starts_with(name) ||
        arg.size() <= name.size() + 2 || arg[name.size() + 2] != '=')
        return false;
    out = std::string(arg.substr(name.size() + 3));
    return true;
}

// A positive count from an option's text, or death.
inline int count_parse(const std::string& text, const char* option)
{
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || v < 1 || v > 100000000)
        die(std::string(option) + " must be a positive number");
    return static_cast<int>(v);
}

}  // namespace bench
