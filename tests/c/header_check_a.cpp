// The header from C++17, in two translation units linked together (this one and
// header_check_b.cpp): sdrt.h's declarations and sdrt.hpp's inline functions must not clash.
// Prints the same report as header_check.c; tests/c_api.rs compares them.

#include "sdrt.h"
#include "sdrt.hpp"

#include <cstdio>
#include <string>
#include <type_traits>

// In C++ the enumerations are real enums with a uint32_t underlying type.
static_assert(std::is_same_v<std::underlying_type_t<sdrt_status>, uint32_t>);
static_assert(std::is_same_v<std::underlying_type_t<sdrt_scheduler>, uint32_t>);
static_assert(std::is_standard_layout_v<sdrt_generate_params>);
static_assert(std::is_trivially_copyable_v<sdrt_pipeline_options>);
// The RAII types are move-only.
static_assert(!std::is_copy_constructible_v<sdrt::Pipeline>);
static_assert(std::is_nothrow_move_constructible_v<sdrt::Pipeline>);
static_assert(!std::is_copy_constructible_v<sdrt::Images>);

std::string layout_report(); // header_check_b.cpp
int wrapper_errors();        // header_check_b.cpp

int main() {
    std::printf("macros %d.%d.%d abi %d\n", SDRT_VERSION_MAJOR, SDRT_VERSION_MINOR,
                SDRT_VERSION_PATCH, SDRT_ABI_VERSION);
    std::printf("library %s abi %u\n", sdrt_version(), sdrt_abi_version());
    std::fputs(layout_report().c_str(), stdout);
    // The wrapper reports errors with their status and message.
    auto missing = sdrt::Pipeline::create("/nonexistent/sdrt-cpp-model");
    if (missing || missing.error().status != SDRT_ERROR_MODEL_NOT_FOUND ||
        missing.error().message.empty()) {
        std::fprintf(stderr, "FAIL: Pipeline::create on a missing folder\n");
        return 1;
    }
    return wrapper_errors();
}
