// sdl_texture_tool: the game-engine pattern on SDL2. A worker thread loads the model and
// generates while the main loop keeps rendering: a progress bar, the latest preview, and in
// the end the generated image uploaded as an SDL texture. Escape (or closing the window) and a
// timeout cancel the run from the main thread with Pipeline::cancel().
//
//   sdl_texture_tool MODEL_DIR OUT_DIR [--prompt T] [--steps N] [--seed S] [--size W H]
//                    [--timeout-ms MS] [--press-escape-at-step K] [--hold]
//
// Writes OUT_DIR/generated.ppm (the image as sdrt returned it), OUT_DIR/preview.ppm (the last
// preview, at its own size) and OUT_DIR/screenshot.ppm (the last frame, read back from the
// renderer), and prints what is where on stdout. --press-escape-at-step pushes an Escape key
// event once step K is reported, as a user would press it; --hold keeps the window open after
// the image is done, until Escape or close. Exit status: 0 generated, 3 cancelled, 1 sdrt or
// SDL failed, 2 usage.
//
// Build: cmake -S examples/cpp/sdl_texture_tool -B build/sdl && cmake --build build/sdl
// (see CMakeLists.txt). Headless: SDL_VIDEODRIVER=dummy (the software renderer is used).

#include <sdrt.hpp>

#include <SDL.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kMargin = 16;
constexpr int kBarHeight = 12;

/// What the worker shares with the main loop.
struct Shared {
    std::atomic<uint32_t> step{0};
    std::atomic<uint32_t> total{0};
    std::atomic<bool> cancel_requested{false};
    std::atomic<sdrt::Pipeline *> pipeline{nullptr};
    std::atomic<bool> done{false};

    std::mutex mutex; // guards what follows
    std::vector<uint8_t> preview; // RGB8, packed
    uint32_t preview_width = 0;
    uint32_t preview_height = 0;
    uint64_t preview_serial = 0;
    uint32_t previews = 0;
    std::optional<sdrt::Result<sdrt::Images>> result;
    std::string failure; // an exception from the worker
};

/// Cancels from any thread: the flag covers a run that has not started yet (the step
/// callback checks it), Pipeline::cancel one that is running.
void request_cancel(Shared &shared) {
    shared.cancel_requested = true;
    if (sdrt::Pipeline *pipe = shared.pipeline.load()) {
        pipe->cancel();
    }
}

void worker(Shared &shared, const std::string &model, const sdrt::Params &base,
            std::optional<sdrt::Pipeline> &pipeline) {
    try {
        auto created = sdrt::Pipeline::create(model);
        if (!created) {
            std::lock_guard<std::mutex> lock(shared.mutex);
            shared.result.emplace(created.error());
            shared.done = true;
            return;
        }
        pipeline.emplace(std::move(created).value());
        shared.pipeline = &*pipeline;
        sdrt::Params params = sdrt::Params(base).on_step([&](const sdrt::StepInfo &info) {
            shared.total = info.total_steps();
            shared.step = info.step();
            if (info.has_preview()) {
                const sdrt::ImageView view = info.preview(0);
                std::lock_guard<std::mutex> lock(shared.mutex);
                shared.preview.assign(view.data, view.data + view.size_bytes());
                shared.preview_width = view.width;
                shared.preview_height = view.height;
                shared.preview_serial++;
                shared.previews++;
            }
            return !shared.cancel_requested.load();
        });
        if (shared.cancel_requested) { // cancelled while loading
            std::lock_guard<std::mutex> lock(shared.mutex);
            shared.result.emplace(sdrt::Error(SDRT_ERROR_CANCELLED, "cancelled before start"));
        } else {
            auto images = pipeline->generate(params);
            std::lock_guard<std::mutex> lock(shared.mutex);
            shared.result.emplace(std::move(images));
        }
    } catch (const std::exception &e) {
        std::lock_guard<std::mutex> lock(shared.mutex);
        shared.failure = e.what();
    }
    shared.done = true;
}

bool write_ppm(const std::string &path, const uint8_t *rgb, uint32_t width, uint32_t height,
               std::size_t pitch) {
    std::ofstream out(path, std::ios::binary);
    out << "P6\n" << width << " " << height << "\n255\n";
    for (uint32_t y = 0; y < height; y++) {
        out.write(reinterpret_cast<const char *>(rgb + pitch * y),
                  static_cast<std::streamsize>(std::size_t{width} * 3u));
    }
    return static_cast<bool>(out);
}

/// Nearest-neighbour upscale of a packed RGB8 image to `width` x `height`, done here rather
/// than by the renderer so the pixels on screen are exactly these.
std::vector<uint8_t> upscale(const std::vector<uint8_t> &src, uint32_t sw, uint32_t sh,
                             uint32_t width, uint32_t height) {
    std::vector<uint8_t> out(std::size_t{width} * height * 3u);
    for (uint32_t y = 0; y < height; y++) {
        const uint32_t sy = y * sh / height;
        for (uint32_t x = 0; x < width; x++) {
            const uint32_t sx = x * sw / width;
            const uint8_t *p = &src[(std::size_t{sy} * sw + sx) * 3u];
            std::copy(p, p + 3, &out[(std::size_t{y} * width + x) * 3u]);
        }
    }
    return out;
}

/// A streaming RGB24 texture of the given size, recreated when the size changes.
SDL_Texture *texture_for(SDL_Renderer *renderer, SDL_Texture *old, int width, int height) {
    if (old != nullptr) {
        int w = 0;
        int h = 0;
        SDL_QueryTexture(old, nullptr, nullptr, &w, &h);
        if (w == width && h == height) {
            return old;
        }
        SDL_DestroyTexture(old);
    }
    return SDL_CreateTexture(renderer, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STREAMING, width,
                             height);
}

int usage() {
    std::fprintf(stderr,
                 "usage: sdl_texture_tool MODEL_DIR OUT_DIR [--prompt T] [--steps N] [--seed S]\n"
                 "       [--size W H] [--timeout-ms MS] [--press-escape-at-step K] [--hold]\n");
    return 2;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        return usage();
    }
    const std::string model = argv[1];
    const std::string out_dir = argv[2];
    uint32_t width = 64;
    uint32_t height = 64;
    long timeout_ms = -1;
    uint32_t escape_at_step = 0;
    bool hold = false;
    sdrt::Params params = sdrt::Params()
                              .prompt("a photo of an astronaut riding a horse on mars")
                              .steps(10)
                              .seed(42)
                              .preview(SDRT_PREVIEW_LATENT_RGB);
    try {
        for (int i = 3; i < argc; i++) {
            const std::string arg = argv[i];
            auto next = [&]() -> std::string {
                if (i + 1 >= argc) {
                    throw std::invalid_argument(arg + " needs a value");
                }
                return argv[++i];
            };
            if (arg == "--prompt") {
                params.prompt(next());
            } else if (arg == "--steps") {
                params.steps(static_cast<uint32_t>(std::stoul(next())));
            } else if (arg == "--seed") {
                params.seed(std::stoull(next()));
            } else if (arg == "--size") {
                width = static_cast<uint32_t>(std::stoul(next()));
                height = static_cast<uint32_t>(std::stoul(next()));
            } else if (arg == "--timeout-ms") {
                timeout_ms = std::stol(next());
            } else if (arg == "--press-escape-at-step") {
                escape_at_step = static_cast<uint32_t>(std::stoul(next()));
            } else if (arg == "--hold") {
                hold = true;
            } else {
                return usage();
            }
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "sdl_texture_tool: %s\n", e.what());
        return usage();
    }
    params.size(width, height);

    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        std::fprintf(stderr, "sdl_texture_tool: SDL_Init: %s\n", SDL_GetError());
        return 1;
    }
    // Image on the left at 1:1, the preview scaled to the same size on the right.
    const int win_w = 3 * kMargin + 2 * static_cast<int>(width);
    const int win_h = 3 * kMargin + kBarHeight + static_cast<int>(height);
    const SDL_Rect bar{kMargin, kMargin, win_w - 2 * kMargin, kBarHeight};
    const SDL_Rect image_rect{kMargin, 2 * kMargin + kBarHeight, static_cast<int>(width),
                              static_cast<int>(height)};
    const SDL_Rect preview_rect{2 * kMargin + static_cast<int>(width), image_rect.y,
                                static_cast<int>(width), static_cast<int>(height)};
    SDL_Window *window = SDL_CreateWindow("sdrt texture tool", SDL_WINDOWPOS_UNDEFINED,
                                          SDL_WINDOWPOS_UNDEFINED, win_w, win_h, 0);
    SDL_Renderer *renderer =
        window != nullptr ? SDL_CreateRenderer(window, -1, SDL_RENDERER_SOFTWARE) : nullptr;
    if (renderer == nullptr) {
        std::fprintf(stderr, "sdl_texture_tool: window/renderer: %s\n", SDL_GetError());
        SDL_Quit();
        return 1;
    }
    std::printf("video driver %s\n", SDL_GetCurrentVideoDriver());

    Shared shared;
    std::optional<sdrt::Pipeline> pipeline; // outlives the worker and every cancel()
    std::thread thread(worker, std::ref(shared), std::cref(model), std::cref(params),
                       std::ref(pipeline));

    const auto started = std::chrono::steady_clock::now();
    SDL_Texture *preview_tex = nullptr;
    SDL_Texture *image_tex = nullptr;
    uint64_t shown_serial = 0;
    uint64_t uploaded_serial = 0;
    uint32_t frames_while_generating = 0;
    const char *cancelled_by = nullptr;
    bool escape_pushed = false;
    bool quit = false;
    std::vector<uint8_t> last_preview;
    uint32_t last_preview_w = 0;
    uint32_t last_preview_h = 0;
    bool finished = false;
    bool saved = false;
    bool quit_requested = false;
    int exit_code = 0;

    while (!quit) {
        SDL_Event event;
        while (SDL_PollEvent(&event)) {
            const bool escape =
                event.type == SDL_KEYDOWN && event.key.keysym.sym == SDLK_ESCAPE;
            if (escape || event.type == SDL_QUIT) {
                quit_requested = quit_requested || event.type == SDL_QUIT || finished;
                if (!finished && cancelled_by == nullptr) {
                    cancelled_by = escape ? "key" : "quit";
                    request_cancel(shared);
                }
            }
        }
        uint32_t step = shared.step;
        uint32_t total = shared.total;
        if (!finished && cancelled_by == nullptr && timeout_ms >= 0 &&
            std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(timeout_ms)) {
            cancelled_by = "timeout";
            request_cancel(shared);
        }
        if (escape_at_step != 0 && !escape_pushed && step >= escape_at_step) {
            SDL_Event key{};
            key.type = SDL_KEYDOWN;
            key.key.keysym.sym = SDLK_ESCAPE;
            key.key.keysym.scancode = SDL_SCANCODE_ESCAPE;
            SDL_PushEvent(&key);
            escape_pushed = true;
        }
        {
            std::lock_guard<std::mutex> lock(shared.mutex);
            if (shared.preview_serial != shown_serial) {
                shown_serial = shared.preview_serial;
                last_preview = shared.preview;
                last_preview_w = shared.preview_width;
                last_preview_h = shared.preview_height;
            }
        }
        if (shown_serial != uploaded_serial) {
            uploaded_serial = shown_serial;
            preview_tex = texture_for(renderer, preview_tex, preview_rect.w, preview_rect.h);
            const std::vector<uint8_t> big =
                upscale(last_preview, last_preview_w, last_preview_h, width, height);
            SDL_UpdateTexture(preview_tex, nullptr, big.data(), static_cast<int>(width * 3u));
        }

        const bool worker_done = shared.done;
        if (worker_done && !finished) {
            thread.join();
            finished = true;
            step = shared.step;
            total = shared.total;
            std::lock_guard<std::mutex> lock(shared.mutex);
            if (!shared.failure.empty()) {
                std::printf("status failed: %s\n", shared.failure.c_str());
                exit_code = 1;
            } else if (shared.result->ok()) {
                const sdrt::ImageView img = shared.result->value().view(0);
                image_tex = SDL_CreateTexture(renderer, SDL_PIXELFORMAT_RGB24,
                                              SDL_TEXTUREACCESS_STATIC, static_cast<int>(img.width),
                                              static_cast<int>(img.height));
                if (image_tex == nullptr ||
                    SDL_UpdateTexture(image_tex, nullptr, img.data,
                                      static_cast<int>(img.row_bytes())) != 0) {
                    std::printf("status failed: texture: %s\n", SDL_GetError());
                    exit_code = 1;
                } else if (!write_ppm(out_dir + "/generated.ppm", img.data, img.width,
                                      img.height, img.row_bytes())) {
                    std::printf("status failed: cannot write %s/generated.ppm\n", out_dir.c_str());
                    exit_code = 1;
                } else {
                    std::printf("status ok\n");
                }
            } else if (shared.result->status() == SDRT_ERROR_CANCELLED) {
                std::printf("status cancelled (%s) at step %u of %u\n",
                            cancelled_by != nullptr ? cancelled_by : "?", step, total);
                exit_code = 3;
            } else {
                std::printf("status failed: %s\n", shared.result->error().describe().c_str());
                exit_code = 1;
            }
            std::printf("previews received %u\n", shared.previews);
        } else if (!finished) {
            frames_while_generating++;
        }

        // Draw: background, progress bar, preview, image.
        SDL_SetRenderDrawColor(renderer, 24, 24, 32, 255);
        SDL_RenderClear(renderer);
        SDL_SetRenderDrawColor(renderer, 64, 64, 72, 255);
        SDL_RenderFillRect(renderer, &bar);
        if (total > 0) {
            SDL_Rect fill = bar;
            fill.w = static_cast<int>(static_cast<int64_t>(bar.w) * step / total);
            SDL_SetRenderDrawColor(renderer, 80, 200, 120, 255);
            SDL_RenderFillRect(renderer, &fill);
        }
        SDL_SetRenderDrawColor(renderer, 48, 48, 56, 255);
        SDL_RenderFillRect(renderer, &image_rect);
        SDL_RenderFillRect(renderer, &preview_rect);
        if (preview_tex != nullptr) {
            SDL_RenderCopy(renderer, preview_tex, nullptr, &preview_rect);
        }
        if (image_tex != nullptr) {
            SDL_RenderCopy(renderer, image_tex, nullptr, &image_rect);
        }
        if (finished && !saved) {
            saved = true;
            // The first finished frame: read it back before presenting (SDL's rule) and save it.
            std::vector<uint8_t> shot(static_cast<std::size_t>(win_w) *
                                      static_cast<std::size_t>(win_h) * 3u);
            if (SDL_RenderReadPixels(renderer, nullptr, SDL_PIXELFORMAT_RGB24, shot.data(),
                                     win_w * 3) != 0 ||
                !write_ppm(out_dir + "/screenshot.ppm", shot.data(), static_cast<uint32_t>(win_w),
                           static_cast<uint32_t>(win_h), static_cast<std::size_t>(win_w) * 3u)) {
                std::printf("status failed: screenshot: %s\n", SDL_GetError());
                exit_code = 1;
            }
            if (!last_preview.empty()) {
                write_ppm(out_dir + "/preview.ppm", last_preview.data(), last_preview_w,
                          last_preview_h, std::size_t{last_preview_w} * 3u);
            }
            std::printf("window %d %d\n", win_w, win_h);
            std::printf("image_rect %d %d %d %d\n", image_rect.x, image_rect.y, image_rect.w,
                        image_rect.h);
            std::printf("preview_rect %d %d %d %d\n", preview_rect.x, preview_rect.y,
                        preview_rect.w, preview_rect.h);
            std::printf("bar_rect %d %d %d %d\n", bar.x, bar.y, bar.w, bar.h);
            std::printf("progress %u %u\n", step, total);
            std::printf("frames while generating %u\n", frames_while_generating);
        }
        SDL_RenderPresent(renderer);
        if (finished && (!hold || quit_requested)) {
            quit = true;
        }
        SDL_Delay(finished ? 30 : 8);
    }

    if (thread.joinable()) {
        thread.join();
    }
    SDL_DestroyTexture(image_tex);
    SDL_DestroyTexture(preview_tex);
    SDL_DestroyRenderer(renderer);
    SDL_DestroyWindow(window);
    SDL_Quit();
    std::fflush(stdout);
    return exit_code;
}
