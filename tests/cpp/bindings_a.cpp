// The C++ binding's test program, first of four translation units linked together (the others
// are bindings_b.cpp, bindings_sdxl.cpp and bindings_lora.cpp): sdrt.hpp's inline functions
// and templates must
// not clash. tests/cpp.rs runs its subcommands and checks what they print:
//
//   bindings defaults             the builders' defaults and the C *_init defaults
//   bindings bad-model DIR        the throwing layer and Result on a missing model folder
//   bindings callbacks MODEL OUT  exceptions in callbacks, previews, logging, image views
//   bindings plugin MODEL         the plugin provider options: a missing OpenVINO plugin
//   bindings sdxl BASE REFINER OUT  SDXL's fields and the refiner hand-off (bindings_sdxl.cpp)
//   bindings lora MODEL LORAS OUT   LoRAs chosen per call (bindings_lora.cpp)
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
int controlnet(const std::string &model, const std::string &edges, const std::string &depth,
               const std::string &out); // bindings_sdxl.cpp
int lora(const std::string &model, const std::string &loras,
         const std::string &out); // bindings_lora.cpp

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

int plugin(const std::string &model) {
    // OpenVINO without its plugin: a fallback to the CPU provider, or strict mode's error.
    const std::string missing = "/nonexistent/libonnxruntime_providers_openvino_plugin.so";
    auto options = sdrt::PipelineOptions()
                       .provider(SDRT_PROVIDER_OPENVINO)
                       .ep_device(SDRT_EP_DEVICE_CPU)
                       .ep_precision(SDRT_EP_PRECISION_F32)
                       .ep_library_path(missing)
                       .ep_option("num_of_threads", "2");
    const sdrt_pipeline_options raw = options.c_options();
    check(raw.ep_option_count == 1 && std::strcmp(raw.ep_option_keys[0], "num_of_threads") == 0 &&
              std::strcmp(raw.ep_option_values[0], "2") == 0,
          "c_options() carries the plugin options");
    {
        auto pipe = sdrt::Pipeline::create(model, options);
        check(pipe.ok(), "a missing plugin falls back to the CPU provider");
        if (pipe.ok()) {
            auto info = pipe.value().info();
            check(info.ok() && info.value().provider == SDRT_PROVIDER_CPU,
                  "the info says the CPU provider");
        }
    }
    // The device list: ONNX Runtime's CPU provider is always there; a library that is not
    // a plugin is refused by name.
    auto devices = sdrt::ep_devices();
    check(devices.ok() && devices.value().find("\"ep_name\":\"CPUExecutionProvider\"") !=
                              std::string::npos,
          "ep_devices lists the CPU provider");
    auto refused = sdrt::ep_devices(missing);
    check(!refused.ok() && refused.status() == SDRT_ERROR_PROVIDER_UNAVAILABLE,
          "ep_devices refuses a missing plugin");
    auto strict = sdrt::Pipeline::create(model, options.strict_provider(true));
    check(!strict.ok() && strict.status() == SDRT_ERROR_PROVIDER_UNAVAILABLE,
          "strict mode refuses a missing plugin");
    if (!strict.ok()) {
        std::printf("strict %s: %s\n", strict.error().name(), strict.error().message.c_str());
        check(strict.error().message.find(missing) != std::string::npos,
              "the message names the library");
    }
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
    } else if (cmd == "plugin" && argc == 3) {
        failed = plugin(argv[2]);
    } else if (cmd == "sdxl" && argc == 5) {
        failed = sdxl(argv[2], argv[3], argv[4]);
    } else if (cmd == "controlnet" && argc == 6) {
        failed = controlnet(argv[2], argv[3], argv[4], argv[5]);
    } else if (cmd == "lora" && argc == 5) {
        failed = lora(argv[2], argv[3], argv[4]);
    } else {
        std::fprintf(stderr, "usage: bindings defaults | bad-model DIR | callbacks MODEL OUT | "
                             "plugin MODEL | sdxl BASE REFINER OUT | "
                             "controlnet MODEL EDGES DEPTH OUT | lora MODEL LORAS OUT\n");
        return 2;
    }
    if (failed == 0) {
        std::printf("PASS\n");
    } else {
        std::printf("FAILED %d\n", failed);
    }
    return failed == 0 ? 0 : 1;
}
