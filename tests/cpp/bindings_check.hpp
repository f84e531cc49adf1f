// Checks shared by bindings_b.cpp, bindings_sdxl.cpp and bindings_lora.cpp: a failure counter, writing an
// image as PPM, generating one image to a file, and a refusal naming a field. In an unnamed
// namespace on purpose: each file that includes it counts its own failures (its command
// returns them). The functions are inline so a file that uses only some of them compiles
// without unused-function warnings.
#pragma once

#include <sdrt.hpp>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

int failures = 0;

inline void check(bool ok, const std::string &what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what.c_str());
        failures++;
    }
}

inline bool write_ppm(const std::string &path, const sdrt::ImageView &img) {
    std::ofstream out(path, std::ios::binary);
    out << "P6\n" << img.width << " " << img.height << "\n255\n";
    for (uint32_t y = 0; y < img.height; y++) {
        out.write(reinterpret_cast<const char *>(img.row(y)),
                  static_cast<std::streamsize>(img.width * 3u));
    }
    return static_cast<bool>(out);
}

/// Generates `params` (one image) on `pipe` into the PPM file `path`.
inline void save(sdrt::Pipeline &pipe, const sdrt::Params &params, const std::string &path) {
    auto images = pipe.generate(params);
    check(images.ok(), path + ": " + (images.ok() ? "" : images.error().describe()));
    if (images.ok()) {
        check(images.value().count() == 1, path + ": one image");
        check(write_ppm(path, images.value().view(0)), path + ": written");
    }
}

/// The call is refused with SDRT_ERROR_INVALID_ARGUMENT naming `needle`.
inline void refused(sdrt::Pipeline &pipe, const sdrt::Params &params, const char *what,
             const char *needle) {
    auto r = pipe.generate(params);
    std::printf("%s: %s\n", what, r.ok() ? "ok" : r.error().describe().c_str());
    check(!r.ok() && r.status() == SDRT_ERROR_INVALID_ARGUMENT &&
              r.error().message.find(needle) != std::string::npos,
          std::string(what) + " refused naming " + needle);
}

} // namespace
