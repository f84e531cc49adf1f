// Second C++ translation unit for header_check_a.cpp.

#include "sdrt.h"
#include "sdrt.hpp"

#include <cstddef>
#include <cstdio>
#include <string>

#include "header_layout.h"

std::string layout_report();
int wrapper_errors();

std::string layout_report() {
    std::string out;
    char line[160];
#define SIZE(T)                                                                              \
    std::snprintf(line, sizeof line, "size %s %u\n", #T, static_cast<unsigned>(sizeof(T)));  \
    out += line;
#define FIELD(T, f)                                                                          \
    std::snprintf(line, sizeof line, "offset %s.%s %u\n", #T, #f,                            \
                  static_cast<unsigned>(offsetof(T, f)));                                    \
    out += line;
    SDRT_TEST_LAYOUT(SIZE, FIELD)
#undef SIZE
#undef FIELD
    return out;
}

int wrapper_errors() {
    sdrt::Error e = sdrt::last_error(SDRT_ERROR_CANCELLED);
    if (std::string(e.name()) != "SDRT_ERROR_CANCELLED") {
        std::fprintf(stderr, "FAIL: Error::name\n");
        return 1;
    }
    // Moving a null handle around and destroying it calls *_free(NULL): a no-op.
    sdrt::Images empty{sdrt::ImagesPtr{}};
    sdrt::Images moved = std::move(empty);
    if (moved.count() != 0 || moved.data(0) != nullptr) {
        std::fprintf(stderr, "FAIL: empty Images\n");
        return 1;
    }
    return 0;
}
