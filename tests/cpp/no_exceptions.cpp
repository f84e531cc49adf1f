// sdrt.hpp in a build without exceptions or RTTI (-fno-exceptions -fno-rtti, as many game
// engines build): Result carries the errors, and value() on an error prints it and aborts.
//
//   no_exceptions MODEL_DIR [--value]
//
// Prints the status of Pipeline::create(MODEL_DIR); with --value calls value() on it.

#include <sdrt.hpp>

#include <cstdio>
#include <cstring>

#if SDRT_HPP_EXCEPTIONS
#error "built with exceptions"
#endif

int main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    sdrt::Params params = sdrt::Params().prompt("x").on_step([](const sdrt::StepInfo &) {});
    auto pipeline = sdrt::Pipeline::create(argv[1], sdrt::PipelineOptions().log(
                                                        [](sdrt_log_level, std::string_view) {}));
    if (argc > 2 && std::strcmp(argv[2], "--value") == 0) {
        sdrt::Pipeline p = std::move(pipeline).value();
        static_cast<void>(p.generate(params));
        return 0;
    }
    std::printf("%s\n", sdrt_status_str(pipeline.status()));
    return pipeline.ok() ? 1 : 0;
}
