// main() of tg_e2e_tests: the global environment that builds and removes the
// world, and the handlers that remove it when the run is interrupted.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "harness.hpp"

namespace {

// Creates the world before the first test and removes it after the last.
class WorldEnvironment : public ::testing::Environment {
public:
    void SetUp() override { tge2e::World::get().setup(); }
    void TearDown() override { tge2e::World::get().teardown(); }
};

// Prints the run's totals in the form tests/run-all.sh reports.
void summary_print()
{
    const auto* u = ::testing::UnitTest::GetInstance();
    std::printf("e2e summary: %d passed, %d failed, %d skipped\n", u->successful_test_count(),
                u->failed_test_count(), u->skipped_test_count());
}

}  // namespace

int main(int argc, char** argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    // The wrapper decides in the machine's local time (/etc/localtime); so do the tests.
    unsetenv("TZ");
    tzset();
    umask(022);
    tge2e::world_cleanup_install();
    ::testing::AddGlobalTestEnvironment(new WorldEnvironment);  // gtest owns it
    int rc = RUN_ALL_TESTS();
    summary_print();
    if (!tge2e::World::get().complete()) {
        std::fprintf(stderr, "e2e: the test world was not set up; every test counts as failed\n");
        rc = 1;
    }
    return rc;
}
