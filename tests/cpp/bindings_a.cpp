// The C++ binding's test program, first of three translation units linked together (the others
// are bindings_b.cpp and bindings_sdxl.cpp): sdrt.hpp's inline functions and templates must
// not clash. tests/cpp.rs runs its subcommands and checks what they print:
//
//   bindings defaults             the builders' defaults and the C *_init defaults
//   bindings bad-model DIR        the throwing layer and Result on a missing model folder
//   bindings callbacks MODEL OUT  exceptions in callbacks, previews, logging, image views
//   bindings sdxl BASE REFINER OUT  SDXL's fields and the latents hand-off
//
// Exit status: 0 when every check of the subcommand passed, 1 otherwise (with FAIL lines).

#include <sdrt.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

// The handles are move-only; the builders are plain values.
static_assert(!std::is_copy_constructible_v<sdrt::Pipeline>);
static_assert(!std::is_copy_assignable_v<sdrt::Pipeline>);
static_assert(std::is_nothrow_move_constructible_v<sdrt::Pipeline>);
static_assert(std::is_nothrow_move_assignable_v<sdrt::Pipeline>);
static_assert(!std::is_copy_constructible_v<sdrt::Images>);
static_assert(std::is_nothrow_move_constructible_v<sdrt::Images>);
static_assert(std::is_copy_constructible_v<sdrt::Params>);
static_assert(std::is_base_of_v<std::exception, sdrt::Error>);
static_assert(std::is_trivially_copyable_v<sdrt::ImageView>);
static_assert(std::is_trivially_copyable_v<sdrt::LatentsView>);

int print_defaults();                                         // bindings_b.cpp
int callbacks(const std::string &model, const std::string &out); // bindings_b.cpp
int sdxl(const std::string &base_dir, const std::string &refiner_dir,
         const std::string &out); // bindings_sdxl.cpp

namespace {

int failures = 0;

void check(bool ok, const char *what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what);
        failures++;
    }
}

int bad_model(const std::string &dir) {
    // Result: no exception, the status and the message.
    auto result = sdrt::Pipeline::create(dir);
    check(!result.ok(), "Pipeline::create on a missing folder fails");
    check(result.status() == SDRT_ERROR_MODEL_NOT_FOUND, "Result::status is MODEL_NOT_FOUND");
    std::printf("result %s: %s\n", result.error().name(), result.error().message.c_str());

    // The throwing layer: value() throws sdrt::Error, catchable as std::exception too.
    try {
        sdrt::Pipeline pipe = sdrt::Pipeline::create(dir, sdrt::PipelineOptions()).value();
        static_cast<void>(pipe);
        check(false, "value() on a missing folder throws");
    } catch (const sdrt::Error &e) {
        std::printf("thrown %s (%u): %s\n", e.name(), static_cast<unsigned>(e.status),
                    e.message.c_str());
        check(e.status == SDRT_ERROR_MODEL_NOT_FOUND, "the thrown status");
        check(e.describe() == std::string(e.name()) + ": " + e.message, "describe()");
        check(std::string(e.what()) == e.describe(), "what() is the status and the message");
    }
    try {
        sdrt::Pipeline pipe = sdrt::Pipeline::create(dir).value();
        static_cast<void>(pipe);
        check(false, "value() throws");
    } catch (const std::exception &e) {
        std::printf("as std::exception: %s\n", e.what());
    }
    // No message from the library: what() still says what failed, never "".
    {
        sdrt::Error silent(SDRT_ERROR_CANCELLED, "");
        std::printf("no message: what() '%s'\n", silent.what());
        check(std::string(silent.what()) == "SDRT_ERROR_CANCELLED", "what() without a message");
        check(silent.describe() == "SDRT_ERROR_CANCELLED", "describe() without a message");
        silent.message = "later";
        check(std::string(silent.what()) == "SDRT_ERROR_CANCELLED: later",
              "what() follows a changed message");
        const sdrt::Error blank;
        std::printf("default: what() '%s'\n", blank.what());
        check(std::string(blank.what()) == "SDRT_ERROR_INTERNAL", "a default Error's what()");
        try {
            throw sdrt::Error(SDRT_ERROR_INFERENCE, "");
        } catch (const std::exception &e) {
            check(std::strcmp(e.what(), "SDRT_ERROR_INFERENCE") == 0, "as std::exception");
        }
    }
    // Runtime errors reach Result the same way.
    auto runtime = sdrt::init_runtime(std::string("/nonexistent/libonnxruntime.so"));
    std::printf("runtime %s\n", sdrt_status_str(runtime.status()));
    check(!runtime.ok(), "init_runtime with a missing library fails");
    return failures;
}

} // namespace

int main(int argc, char **argv) {
    const std::string cmd = argc > 1 ? argv[1] : "";
    int failed = 0;
    if (cmd == "defaults" && argc == 2) {
        failed = print_defaults();
    } else if (cmd == "bad-model" && argc == 3) {
        failed = bad_model(argv[2]);
    } else if (cmd == "callbacks" && argc == 4) {
        failed = callbacks(argv[2], argv[3]);
    } else if (cmd == "sdxl" && argc == 5) {
        failed = sdxl(argv[2], argv[3], argv[4]);
    } else {
        std::fprintf(stderr, "usage: bindings defaults | bad-model DIR | callbacks MODEL OUT | "
                             "sdxl BASE REFINER OUT\n");
        return 2;
    }
    if (failed == 0) {
        std::printf("PASS\n");
    } else {
        std::printf("FAILED %d\n", failed);
    }
    return failed == 0 ? 0 : 1;
}
