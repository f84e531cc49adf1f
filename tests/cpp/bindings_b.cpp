// Second translation unit of the binding's test program (see bindings_a.cpp).

#include <sdrt.hpp>

#include "bindings_check.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

int print_defaults();
int callbacks(const std::string &model, const std::string &out);

namespace {

void field(const char *who, const char *name, double value) {
    std::printf("%s %s %.9g\n", who, name, value);
}

#define SDRT_PARAMS_FIELDS(X)                                                                \
    X(width) X(height) X(steps) X(guidance) X(scheduler) X(seed) X(generator) X(count)      \
    X(eta) X(prediction_type) X(timestep_spacing) X(strength) X(guidance_rescale)          \
    X(preview_kind) X(preview_every) X(memory_limit) X(aesthetic_score)                    \
    X(negative_aesthetic_score) X(denoising_start) X(denoising_end) X(output_latents)

struct Custom {
    int code;
};

} // namespace

int print_defaults() {
    const sdrt::Params params;
    sdrt_generate_params c;
    sdrt_generate_params_init(&c);
#define PRINT_BUILDER(f) field("params", #f, static_cast<double>(params.f()));
#define PRINT_C(f) field("c", #f, static_cast<double>(c.f));
    SDRT_PARAMS_FIELDS(PRINT_BUILDER)
    SDRT_PARAMS_FIELDS(PRINT_C)
    // The struct the builder hands to sdrt is the C default but for the (empty) prompt.
    const sdrt_generate_params built = params.c_params();
#define SAME_FIELD(f) check(built.f == c.f, "c_params()." #f " is sdrt_generate_params_init's");
    SDRT_PARAMS_FIELDS(SAME_FIELD)
    SAME_FIELD(struct_size)
    SAME_FIELD(negative_prompt)
    SAME_FIELD(progress)
    SAME_FIELD(progress_user_data)
    SAME_FIELD(step_callback)
    SAME_FIELD(step_user_data)
    SAME_FIELD(init_image.data)
    SAME_FIELD(init_image.width)
    SAME_FIELD(init_image.height)
    SAME_FIELD(init_image.stride)
    SAME_FIELD(init_image.format)
    SAME_FIELD(mask.data)
    SAME_FIELD(mask.width)
    SAME_FIELD(mask.height)
    SAME_FIELD(mask.stride)
    SAME_FIELD(mask.format)
    SAME_FIELD(loras)
    SAME_FIELD(lora_count)
#undef SAME_FIELD
    check(built.prompt != nullptr && built.prompt[0] == '\0', "c_params() prompt is \"\"");
    check(!params.negative_prompt().has_value(), "no negative prompt by default");
    check(params.init_image().empty() && params.mask().empty(), "no init image or mask");
    check(params.loras().empty(), "no LoRAs by default");
    check(!params.progress_callback() && !params.step_callback(), "no callbacks");
    bool (*no_fn)(uint32_t, uint32_t) = nullptr;
    const sdrt::Params cleared = sdrt::Params()
                                     .on_step([](const sdrt::StepInfo &) {})
                                     .on_step(sdrt::StepFn())
                                     .on_progress(no_fn);
    check(!cleared.step_callback() && !cleared.progress_callback(),
          "an empty std::function or a null pointer clears the callback");

    const sdrt::PipelineOptions options;
    sdrt_pipeline_options co;
    sdrt_pipeline_options_init(&co);
    field("options", "provider", options.provider());
    field("options", "strict_provider", options.strict_provider());
    field("options", "cuda_device_id", options.cuda_device_id());
    field("options", "intra_op_threads", options.intra_op_threads());
    field("options", "log_level", options.log_level());
    field("c", "provider", co.provider);
    field("c", "strict_provider", co.strict_provider);
    field("c", "cuda_device_id", co.cuda_device_id);
    field("c", "intra_op_threads", co.intra_op_threads);
    field("c", "log_level", co.log_level);
    const sdrt_pipeline_options o = options.c_options();
#define SAME_OPTION(f) check(o.f == co.f, "c_options()." #f " is sdrt_pipeline_options_init's");
    SAME_OPTION(struct_size)
    SAME_OPTION(provider)
    SAME_OPTION(strict_provider)
    SAME_OPTION(coreml_compute_units)
    SAME_OPTION(coreml_ml_program)
    SAME_OPTION(coreml_static_shapes)
    SAME_OPTION(static_width)
    SAME_OPTION(static_height)
    SAME_OPTION(static_count)
    SAME_OPTION(cuda_device_id)
    SAME_OPTION(intra_op_threads)
    SAME_OPTION(coreml_cache_dir)
    SAME_OPTION(preview_decoder_path)
    SAME_OPTION(disable_safety_checker)
    SAME_OPTION(log_callback)
    SAME_OPTION(log_level)
    SAME_OPTION(log_user_data)
    SAME_OPTION(graph_cache_dir)
#undef SAME_OPTION

    // Setters chain and read back.
    sdrt::Params set = sdrt::Params()
                           .prompt("p")
                           .negative_prompt("n")
                           .size(96, 64)
                           .steps(7)
                           .guidance(3.5f)
                           .seed(1234567890123ull)
                           .generator(SDRT_GENERATOR_TORCH)
                           .scheduler(SDRT_SCHEDULER_EULER)
                           .count(2)
                           .strength(0.25f)
                           .preview(SDRT_PREVIEW_FULL, 3);
    const sdrt_generate_params s = set.c_params();
    check(s.width == 96 && s.height == 64 && s.steps == 7 && s.guidance == 3.5f &&
              s.seed == 1234567890123ull && s.generator == SDRT_GENERATOR_TORCH &&
              s.scheduler == SDRT_SCHEDULER_EULER && s.count == 2 && s.strength == 0.25f &&
              s.preview_kind == SDRT_PREVIEW_FULL && s.preview_every == 3 &&
              std::strcmp(s.prompt, "p") == 0 && std::strcmp(s.negative_prompt, "n") == 0,
          "setters reach the C struct");
    return failures;
}

int callbacks(const std::string &model, const std::string &out) {
    // A per-pipeline log callback as a std::function, at INFO.
    std::atomic<int> log_messages{0};
    std::mutex log_mutex;
    std::string first_log;
    sdrt::PipelineOptions options = sdrt::PipelineOptions().log(
        [&](sdrt_log_level level, std::string_view message) {
            if (level <= SDRT_LOG_INFO && log_messages++ == 0) {
                std::lock_guard<std::mutex> lock(log_mutex);
                first_log = std::string(message);
            }
        },
        SDRT_LOG_INFO);
    auto created = sdrt::Pipeline::create(model, options);
    if (!created) {
        std::printf("FAIL: create: %s\n", created.error().describe().c_str());
        return 1;
    }
    sdrt::Pipeline pipe = std::move(created).value();
    std::printf("log messages %d, first: %.60s\n", log_messages.load(), first_log.c_str());
    check(log_messages.load() > 0, "the pipeline's log callback got messages");

    const sdrt::Params base =
        sdrt::Params().prompt("a photo of an astronaut riding a horse on mars").size(64, 64);

    // 1. A step callback that throws at step 3: the run is cancelled, nothing runs after the
    //    throw, and generate() rethrows the exception itself once sdrt has returned.
    {
        int progress_calls = 0;
        int step_calls = 0;
        sdrt::Params p = sdrt::Params(base).steps(6).on_progress(
            [&](uint32_t, uint32_t) { progress_calls++; });
        p.on_step([&](const sdrt::StepInfo &info) {
            step_calls++;
            if (info.step() == 3) {
                throw std::runtime_error("boom at step 3");
            }
            return true;
        });
        try {
            static_cast<void>(pipe.generate(p));
            check(false, "a throwing step callback makes generate() throw");
        } catch (const std::runtime_error &e) {
            std::printf("step throw: rethrown '%s' after %d progress and %d step calls; "
                        "sdrt said: %s\n",
                        e.what(), progress_calls, step_calls, sdrt_last_error_message());
            check(std::string(e.what()) == "boom at step 3", "the same exception is rethrown");
            check(progress_calls == 3 && step_calls == 3, "no callback after the throw");
            check(std::strstr(sdrt_last_error_message(), "cancel") != nullptr,
                  "sdrt_pipeline_generate returned SDRT_ERROR_CANCELLED");
        }
    }
    // 2. Any type, thrown from the progress callback, comes back as that type.
    {
        int step_calls = 0;
        sdrt::Params p = sdrt::Params(base).steps(4);
        p.on_progress([](uint32_t step, uint32_t) {
            if (step == 2) {
                throw Custom{42};
            }
        });
        p.on_step([&](const sdrt::StepInfo &) { step_calls++; });
        try {
            static_cast<void>(pipe.generate(p));
            check(false, "a throwing progress callback makes generate() throw");
        } catch (const Custom &c) {
            std::printf("progress throw: rethrown Custom{%d}, %d step calls\n", c.code,
                        step_calls);
            check(c.code == 42 && step_calls == 1, "Custom rethrown, step 2's step callback skipped");
        }
    }
    // 3. The raw-params overload with a lambda: the same.
    {
        sdrt::Params p = sdrt::Params(base).steps(3);
        try {
            static_cast<void>(pipe.generate(p.c_params(), [](uint32_t, uint32_t) -> bool {
                throw std::logic_error("raw");
            }));
            check(false, "raw overload rethrows");
        } catch (const std::logic_error &e) {
            std::printf("raw throw: rethrown '%s'\n", e.what());
        }
    }
    // 4. Returning false cancels without an exception: Result holds SDRT_ERROR_CANCELLED.
    {
        int calls = 0;
        sdrt::Params p = sdrt::Params(base).steps(5).on_step(
            [&](const sdrt::StepInfo &info) {
                calls++;
                return info.step() < 2;
            });
        auto r = pipe.generate(p);
        std::printf("false: %s after %d calls\n", sdrt_status_str(r.status()), calls);
        check(r.status() == SDRT_ERROR_CANCELLED && calls == 2, "false cancels at step 2");
    }
    // 5. The throwing layer on generate: a bad size throws sdrt::Error.
    try {
        sdrt::Images images = pipe.generate(sdrt::Params(base).width(7)).value();
        check(false, "width 7 throws");
    } catch (const sdrt::Error &e) {
        std::printf("bad width: %s: %s\n", e.name(), e.what());
        check(e.status == SDRT_ERROR_INVALID_ARGUMENT, "width 7 is INVALID_ARGUMENT");
    }
    // 6. The pipeline is still fine: the golden "basic" case, with latent previews every step.
    int previews = 0;
    uint32_t total = 0;
    uint32_t preview_w = 0;
    uint32_t preview_h = 0;
    double last_elapsed = -1.0;
    bool elapsed_grows = true;
    sdrt::Params golden = sdrt::Params(base).steps(10).seed(42).preview(SDRT_PREVIEW_LATENT_RGB);
    golden.on_step([&](const sdrt::StepInfo &info) {
        total = info.total_steps();
        elapsed_grows = elapsed_grows && info.elapsed_seconds() >= last_elapsed;
        last_elapsed = info.elapsed_seconds();
        if (info.has_preview()) {
            previews++;
            sdrt::ImageView v = info.preview(0);
            preview_w = v.width;
            preview_h = v.height;
            check(v.format == SDRT_PIXEL_FORMAT_RGB8 && v.row_bytes() == v.width * 3u &&
                      info.preview_kind() == SDRT_PREVIEW_LATENT_RGB && info.preview(1).empty(),
                  "preview view");
        }
        return true;
    });
    auto images = pipe.generate(golden);
    if (!images) {
        std::printf("FAIL: golden: %s\n", images.error().describe().c_str());
        return 1;
    }
    const sdrt::ImageView image = images.value().view(0);
    std::printf("golden: %ux%u, %d previews of %ux%u in %u evaluations\n", image.width,
                image.height, previews, preview_w, preview_h, total);
    check(previews == static_cast<int>(total) && preview_w == 8 && preview_h == 8,
          "a latent preview after every evaluation, at 1/8 size");
    check(elapsed_grows, "elapsed_seconds grows");
    check(images.value().view(1).empty(), "view past count is empty");
    check(write_ppm(out + "/basic.ppm", image), "write basic.ppm");

    // 7. Image views: an init image and mask given packed, and again as RGBA8 / GRAY8 rows
    //    with padded strides, give the same pixels.
    const uint32_t w = image.width;
    const uint32_t h = image.height;
    std::vector<uint8_t> rgba(std::size_t{w + 5} * 4u * h, 0xEE);
    std::vector<uint8_t> mask(std::size_t{w} * h);
    std::vector<uint8_t> mask_padded(std::size_t{w + 3} * h, 0x11);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *px = image.row(y) + x * 3u;
            uint8_t *q = rgba.data() + std::size_t{y} * (w + 5) * 4u + x * 4u;
            q[0] = px[0];
            q[1] = px[1];
            q[2] = px[2];
            q[3] = 0;
            const uint8_t m = x < w / 2 ? 255 : 0;
            mask[std::size_t{y} * w + x] = m;
            mask_padded[std::size_t{y} * (w + 3) + x] = m;
        }
    }
    const sdrt::Params edit = sdrt::Params(base).prompt("a red apple").steps(5).seed(7);
    const sdrt::Params packed = sdrt::Params(edit)
                                    .init_image(sdrt::ImageView::rgb8(image.data, w, h))
                                    .mask(sdrt::ImageView::gray8(mask.data(), w, h));
    const sdrt::Params padded =
        sdrt::Params(edit)
            .init_image(sdrt::ImageView::rgba8(rgba.data(), w, h, (w + 5) * 4u))
            .mask(sdrt::ImageView::gray8(mask_padded.data(), w, h, w + 3));
    check(padded.init_image().size_bytes() == std::size_t{w + 5} * 4u * (h - 1) + w * 4u,
          "ImageView::size_bytes");
    auto a = pipe.generate(packed);
    auto b = pipe.generate(padded);
    if (!a || !b) {
        std::printf("FAIL: inpaint: %s\n", (!a ? a : b).error().describe().c_str());
        return 1;
    }
    const bool same = std::memcmp(a.value().data(0), b.value().data(0), a.value().size_bytes()) == 0;
    const bool changed = std::memcmp(a.value().data(0), image.data, a.value().size_bytes()) != 0;
    std::printf("inpaint: packed and padded views %s\n", same ? "agree" : "differ");
    check(same && changed, "packed and strided views give the same inpainting");

    // 8. A log callback that throws does not take the process down.
    auto noisy = sdrt::Pipeline::create(
        model, sdrt::PipelineOptions().log(
                   [](sdrt_log_level, std::string_view) { throw std::runtime_error("log"); },
                   SDRT_LOG_DEBUG));
    check(noisy.ok(), "a throwing log callback is contained");
    std::printf("throwing log callback: %s\n", noisy ? "contained" : "create failed");
    return failures;
}
