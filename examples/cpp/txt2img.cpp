// txt2img (C++17): the C example's job through the RAII wrapper in sdrt.hpp.
//
//   txt2img MODEL_DIR OUTPUT_PREFIX [--prompt T] [--negative-prompt T] [--width W] [--height H]
//           [--steps N] [--guidance G] [--seed S] [--count N] [--scheduler NAME]
//           [--generator numpy|torch|torch-cuda]
//
// Writes OUTPUT_PREFIX-<i>.ppm (binary PPM). Exit status: 0 ok, 1 sdrt failed, 2 usage.
// Build: c++ -std=c++17 -Iinclude -Ibindings/cpp examples/cpp/txt2img.cpp -Ltarget/debug -lsdrt

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include <sdrt.hpp>

namespace {

int usage() {
    std::cerr << "usage: txt2img MODEL_DIR OUTPUT_PREFIX [--prompt T] [--negative-prompt T]\n"
                 "               [--width W] [--height H] [--steps N] [--guidance G]\n"
                 "               [--seed S] [--count N] [--scheduler NAME]\n"
                 "               [--generator numpy|torch|torch-cuda]\n";
    return 2;
}

// Scheduler names in sdrt_scheduler order.
constexpr std::array<const char *, SDRT_SCHEDULER_DDPM + 1> kSchedulers = {
    "default", "pndm",  "ddim",        "euler", "euler-a", "dpm++2m", "dpm++2m-karras",
    "dpm++2m-sde", "lms", "heun", "unipc", "lcm",     "ddpm",
};

bool parse_scheduler(const std::string &name, uint32_t &out) {
    for (std::size_t i = 0; i < kSchedulers.size(); i++) {
        if (name == kSchedulers[i]) {
            out = static_cast<uint32_t>(i);
            return true;
        }
    }
    return false;
}

bool write_ppm(const std::string &path, const sdrt::Images &images, uint32_t index) {
    std::ofstream out(path, std::ios::binary);
    out << "P6\n" << images.width() << " " << images.height() << "\n255\n";
    out.write(reinterpret_cast<const char *>(images.data(index)),
              static_cast<std::streamsize>(images.size_bytes()));
    return static_cast<bool>(out);
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        return usage();
    }
    const std::string model_dir = argv[1];
    const std::string prefix = argv[2];
    std::string prompt;
    std::string negative;
    bool has_negative = false;

    sdrt_generate_params params;
    sdrt_generate_params_init(&params);
    try {
        for (int i = 3; i < argc; i += 2) {
            const std::string name = argv[i];
            if (i + 1 >= argc) {
                return usage();
            }
            const std::string value = argv[i + 1];
            if (name == "--prompt") {
                prompt = value;
            } else if (name == "--negative-prompt") {
                negative = value;
                has_negative = true;
            } else if (name == "--width") {
                params.width = static_cast<uint32_t>(std::stoul(value));
            } else if (name == "--height") {
                params.height = static_cast<uint32_t>(std::stoul(value));
            } else if (name == "--steps") {
                params.steps = static_cast<uint32_t>(std::stoul(value));
            } else if (name == "--guidance") {
                params.guidance = std::stof(value);
            } else if (name == "--seed") {
                params.seed = std::stoull(value);
            } else if (name == "--count") {
                params.count = static_cast<uint32_t>(std::stoul(value));
            } else if (name == "--scheduler") {
                if (!parse_scheduler(value, params.scheduler)) {
                    return usage();
                }
            } else if (name == "--generator" && value == "numpy") {
                params.generator = SDRT_GENERATOR_NUMPY;
            } else if (name == "--generator" && value == "torch") {
                params.generator = SDRT_GENERATOR_TORCH;
            } else if (name == "--generator" && value == "torch-cuda") {
                params.generator = SDRT_GENERATOR_TORCH_CUDA;
            } else {
                return usage();
            }
        }
    } catch (const std::exception &e) {
        std::cerr << "txt2img: bad number: " << e.what() << "\n";
        return 2;
    }
    params.prompt = prompt.c_str();
    params.negative_prompt = has_negative ? negative.c_str() : nullptr;

    const auto started = std::chrono::steady_clock::now();
    auto pipeline = sdrt::Pipeline::create(model_dir);
    if (!pipeline) {
        std::cerr << "txt2img: loading the model failed: " << pipeline.error().describe() << "\n";
        return 1;
    }
    auto images = pipeline.value().generate(params, [](uint32_t step, uint32_t total) {
        std::cerr << "step " << step << "/" << total << "\n";
        return true;
    });
    if (!images) {
        std::cerr << "txt2img: generating failed: " << images.error().describe() << "\n";
        return 1;
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    std::cerr << "generated " << images.value().count() << " image(s) in " << took.count()
              << "s\n";
    for (uint32_t i = 0; i < images.value().count(); i++) {
        const std::string path = prefix + "-" + std::to_string(i) + ".ppm";
        if (!write_ppm(path, images.value(), i)) {
            std::cerr << "txt2img: cannot write " << path << "\n";
            return 1;
        }
        std::cout << path << "\n";
    }
    return 0;
}
