// Coverage feedback for libFuzzer from g++'s -fsanitize-coverage=trace-pc.
//
// The library needs std::expected, which clang 14 cannot compile against
// libstdc++ 12 (its <expected> wants __cpp_concepts >= 202002L, which clang
// sets only from version 19), so the fuzz targets and the library are built
// by g++ and linked with clang's libFuzzer runtime. g++ instruments with
// trace-pc (one call per basic block) and trace-cmp; libFuzzer 14 takes the
// comparisons directly but no longer takes trace-pc, so this file turns the
// block calls into AFL-style edge counters (hash of the previous and current
// block) in a table that it registers as an inline 8-bit counter module.
// CMake weakens the runtime's own __sanitizer_cov_trace_pc (which only
// prints "no longer supported" and exits), so the one here wins.
//
// Compiled without sanitizers or coverage: it runs inside every block.
#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(std::uint8_t* begin, std::uint8_t* end);
extern "C" void __sanitizer_cov_pcs_init(const std::uintptr_t* begin, const std::uintptr_t* end);

namespace {

constexpr std::size_t kEdges = std::size_t{1} << 16;

std::uint8_t g_counters[kEdges];
// libFuzzer wants one (PC, flags) pair per counter; the "PCs" here are only
// edge numbers, so -print_pcs and -focus_function mean nothing with them.
std::uintptr_t g_pc_table[2 * kEdges];
thread_local std::uintptr_t g_previous_block;

// Registers the table before libFuzzer's main() runs.
__attribute__((constructor)) void coverage_table_register()
{
    for (std::size_t i = 0; i < kEdges; ++i) {
        g_pc_table[2 * i] = i + 1;
        g_pc_table[2 * i + 1] = 0;
    }
    __sanitizer_cov_8bit_counters_init(g_counters, g_counters + kEdges);
    __sanitizer_cov_pcs_init(g_pc_table, g_pc_table + 2 * kEdges);
}

}  // namespace

// One call per basic block (g++ trace-pc): count the edge previous -> this.
extern "C" void __sanitizer_cov_trace_pc()
{
    auto pc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
    std::uintptr_t block = ((pc ^ (pc >> 17)) * 0x9e3779b97f4a7c15ULL) >> 48;
    ++g_counters[(block ^ g_previous_block) & (kEdges - 1)];
    g_previous_block = block >> 1;
}

// g++'s trace-cmp also reports floating-point comparisons; libFuzzer has no
// use for them.
extern "C" void __sanitizer_cov_trace_cmpf(float, float) {}
extern "C" void __sanitizer_cov_trace_cmpd(double, double) {}
