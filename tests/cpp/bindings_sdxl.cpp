// Third translation unit of the binding's test program (see bindings_a.cpp): SDXL through
// sdrt.hpp. `bindings sdxl BASE REFINER OUT` writes, for tests/cpp.rs to compare with
// tests/goldens/sdxl.json:
//
//   OUT/handoff.ppm     the hand-off: the base to denoising_end 0.8 with output_latents,
//                       Images::latents(), the refiner from them at denoising_start 0.8
//   OUT/microcond.ppm   base_microcond: every micro-conditioning setter
//   OUT/prompt2.ppm     base_prompt2_negative2: prompt_2 and negative_prompt_2
//
// and checks the errors: latents() of images without latents, another family's latents, a
// crop outside the original size, a NaN aesthetic score.
//
// `bindings controlnet MODEL EDGES_PPM DEPTH_PPM OUT` writes OUT/controlnet.ppm: the
// controlnet.json case sd2_multi through Params::controlnet(), and checks a refusal.

#include <sdrt.hpp>

#include "bindings_check.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

int sdxl(const std::string &base_dir, const std::string &refiner_dir, const std::string &out);
int controlnet(const std::string &model, const std::string &edges, const std::string &depth,
               const std::string &out);

int sdxl(const std::string &base_dir, const std::string &refiner_dir, const std::string &out) {
    sdrt::Pipeline base = sdrt::Pipeline::create(base_dir).value();
    sdrt::Pipeline refiner = sdrt::Pipeline::create(refiner_dir).value();

    // The hand-off (handoff_base_6_end0.8, then handoff_refiner_6_start0.8).
    const sdrt::Params params = sdrt::Params()
                                    .prompt("a photo of an astronaut riding a horse on mars")
                                    .size(64, 64)
                                    .steps(6)
                                    .guidance(5.0f)
                                    .seed(80);
    sdrt::Images latent_images =
        base.generate(sdrt::Params(params).denoising_end(0.8f).output_latents(true)).value();
    check(latent_images.count() == 0 && latent_images.data(0) == nullptr,
          "output_latents: no images");
    sdrt::LatentsView latents = latent_images.latents().value();
    std::printf("latents %ux%ux%ux%u %s, %zu floats\n", latents.count, latents.channels,
                latents.height, latents.width, latents.family, latents.size());
    check(latents.size() == 4u * 8u * 8u && std::strcmp(latents.family, "sdxl") == 0,
          "the latents' shape and family");
    bool finite = true;
    for (std::size_t i = 0; i < latents.size(); i++) {
        finite = finite && std::isfinite(latents.data[i]);
    }
    check(finite, "the latents are finite");
    check(latent_images.latents().value().data == latents.data,
          "latents() views the same floats every time");
    const sdrt::Params refine = sdrt::Params(params).latents(latents).denoising_start(0.8f);
    check(refine.c_params().latents != nullptr && refine.c_params().latents->data == latents.data,
          "c_params() carries the latents");
    save(refiner, refine, out + "/handoff.ppm");

    // base_microcond: diffusers' (height, width) sizes and (top, left) crops as (w, h), (x, y).
    save(base,
         sdrt::Params()
             .prompt("a portrait of an old sailor")
             .size(64, 64)
             .steps(5)
             .guidance(5.0f)
             .seed(56)
             .original_size(192, 256)
             .crop(8, 16)
             .target_size(80, 64)
             .negative_original_size(512, 512)
             .negative_crop(2, 4)
             .negative_target_size(64, 64),
         out + "/microcond.ppm");

    // base_prompt2_negative2.
    save(base,
         sdrt::Params()
             .prompt("a red cube on a wooden table")
             .prompt_2("a watercolor painting")
             .negative_prompt("blurry")
             .negative_prompt_2("photograph, grey")
             .size(64, 64)
             .steps(5)
             .guidance(7.0f)
             .seed(53),
         out + "/prompt2.ppm");

    // Errors.
    sdrt::Images plain = base.generate(sdrt::Params(params).steps(1)).value();
    auto none = plain.latents();
    std::printf("latents of plain images: %s\n",
                none.ok() ? "ok" : none.error().describe().c_str());
    check(!none.ok() && none.status() == SDRT_ERROR_INVALID_ARGUMENT &&
              none.error().message.find("output_latents") != std::string::npos,
          "latents() of images without latents");
    std::vector<float> zeros(4 * 8 * 8, 0.0f);
    sdrt::LatentsView sd = latents;
    sd.data = zeros.data();
    sd.family = "sd";
    refused(refiner, sdrt::Params(params).latents(sd).denoising_start(0.8f), "sd latents",
            "latents");
    refused(base, sdrt::Params(params).crop(64, 0), "crop outside", "crop_x/crop_y");
    refused(refiner, sdrt::Params(params).latents(latents).denoising_start(0.8f)
                         .aesthetic_score(std::nanf("")),
            "aesthetic NaN", "aesthetic_score");
    return failures;
}

namespace {

/// A binary PPM (P6, maxval 255) as packed RGB rows.
std::vector<uint8_t> read_ppm(const std::string &path, uint32_t &w, uint32_t &h) {
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    unsigned maxval = 0;
    in >> magic >> w >> h >> maxval;
    in.get();
    std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3u);
    in.read(reinterpret_cast<char *>(px.data()), static_cast<std::streamsize>(px.size()));
    check(magic == "P6" && maxval == 255 && static_cast<bool>(in), path + ": a P6 PPM");
    return px;
}

} // namespace

int controlnet(const std::string &model, const std::string &edges, const std::string &depth,
               const std::string &out) {
    sdrt::Pipeline pipe = sdrt::Pipeline::create(model).value();
    uint32_t w = 0, h = 0, w2 = 0, h2 = 0;
    const std::vector<uint8_t> e = read_ppm(edges, w, h);
    const std::vector<uint8_t> d = read_ppm(depth, w2, h2);
    sdrt::Params params = sdrt::Params()
                              .prompt("a photo of an astronaut riding a horse on mars")
                              .size(64, 64)
                              .steps(6)
                              .guidance(7.5f)
                              .seed(3);
    sdrt::Params multi = sdrt::Params(params)
                             .controlnet({"canny", sdrt::ImageView::rgb8(e.data(), w, h)})
                             .controlnet({"depth", sdrt::ImageView::rgb8(d.data(), w2, h2),
                                          0.8f});
    check(multi.controlnets().size() == 2 && multi.c_params().controlnet_count == 2,
          "two ControlNets");
    const sdrt_generate_params raw = multi.c_params();
    check(std::strcmp(raw.controlnets[1].model, "depth") == 0 &&
              raw.controlnets[1].scale == 0.8f && raw.controlnets[1].end == 1.0f &&
              raw.controlnets[1].guess_mode == 0,
          "c_params() carries the ControlNets");
    save(pipe, multi, out + "/controlnet.ppm");
    const sdrt::ControlNet nan{"canny", sdrt::ImageView::rgb8(e.data(), w, h), std::nanf("")};
    refused(pipe, sdrt::Params(params).controlnet(nan), "NaN scale", "controlnets[0].scale");
    check(sdrt::Params(multi).clear_controlnets().c_params().controlnets == nullptr,
          "clear_controlnets()");
    return failures;
}
