// sdrt.hpp: the C++17 binding of sdrt, header-only, over the C API in sdrt.h.
//
// Compile with -Ipath/to/include -Ipath/to/bindings/cpp, link libsdrt, and:
//
//     #include <sdrt.hpp>
//
//     sdrt::Pipeline pipe = sdrt::Pipeline::create("models/sd2-base-onnx").value(); // throws
//     sdrt::Params params = sdrt::Params()
//                               .prompt("a lighthouse at night")
//                               .steps(20)
//                               .seed(42)
//                               .preview(SDRT_PREVIEW_LATENT_RGB)
//                               .on_step([](const sdrt::StepInfo &step) {
//                                   std::printf("%u/%u\n", step.step(), step.total_steps());
//                                   return true; // false cancels
//                               });
//     sdrt::Images images = pipe.generate(params).value();
//     sdrt::ImageView rgb = images.view(0); // width(), height(), stride, data
//
// What it gives over the C API:
//
// - Handles. Pipeline and Images own their C objects (std::unique_ptr with deleters calling
//   sdrt_*_free) and are move-only.
// - Errors, two ways. Fallible calls return a [[nodiscard]] sdrt::Result<T>: the value or an
//   sdrt::Error (the status plus the thread's sdrt_last_error_message, copied). Hosts that
//   prefer exceptions call Result::value(), which throws that sdrt::Error (an std::exception:
//   status, name(), message, and what() = "NAME: message"). Built without exceptions
//   (-fno-exceptions), value() on an error prints it and aborts; check ok() first.
// - Builders. sdrt::Params and sdrt::PipelineOptions start from the C defaults (they call
//   sdrt_generate_params_init / sdrt_pipeline_options_init) and own their strings.
// - Pixels as views. sdrt::ImageView is pointer, width, height, stride and format: init
//   images and masks go in as views (borrowed until generate() returns, never copied by the
//   binding), and generated images and previews come out as views.
// - SDXL's hand-off as a view too: Params::output_latents(true) makes generate() return
//   latents, Images::latents() gives them as an sdrt::LatentsView (owned by those Images,
//   valid while they live), and Params::latents(view) with denoising_start() hands them to a
//   refiner (borrowed until generate() returns; sdrt copies them when the call starts):
//
//     sdrt::Images base = base_pipe.generate(sdrt::Params(params).denoising_end(0.8f)
//                                                .output_latents(true)).value();
//     sdrt::LatentsView latents = base.latents().value();
//     sdrt::Images images = refiner.generate(sdrt::Params(params).latents(latents)
//                                                .denoising_start(0.8f)).value();
// - LoRAs chosen per call: Pipeline::load_lora(path) gives an sdrt::Lora (move-only, freed
//   with sdrt_lora_free when destroyed), and Params::lora(handle, scale) adds it to a call
//   (several add up; the next call chooses its own):
//
//     sdrt::Lora style = pipe.load_lora("loras/style.safetensors").value();
//     sdrt::Images images = pipe.generate(sdrt::Params(params).lora(style, 0.7f)).value();
//
//   The pipeline owns its LoRAs: destroying (or move-assigning over) the Pipeline frees every
//   one still loaded, and a Lora that outlives its Pipeline is then inert (its destructor
//   does nothing; a call given it is refused). Destroy a Lora only when no other thread is
//   destroying its Pipeline.
// - Callbacks as std::function. Params::on_progress, Params::on_step (previews included) and
//   PipelineOptions::log take any callable. An exception thrown by a progress or step
//   callback never unwinds through sdrt: the trampoline catches it, returns 0 so the call is
//   cancelled (the C call returns SDRT_ERROR_CANCELLED, and sdrt_last_error_message says
//   so), and generate() rethrows it, as it was thrown, once sdrt_pipeline_generate has
//   returned. Log callbacks run on any thread, ONNX Runtime's included, so an exception there
//   is caught and dropped.
//
// Threads are the C API's: generate() calls on one pipeline are serialized, cancel() may be
// called from any thread, callbacks run on the thread that called generate() (log callbacks on
// any thread). Free a Pipeline (destroy or move-assign over it) only when no other thread uses
// it.

#ifndef SDRT_HPP
#define SDRT_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#if !defined(SDRT_HPP_EXCEPTIONS)
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define SDRT_HPP_EXCEPTIONS 1
#else
#define SDRT_HPP_EXCEPTIONS 0
#endif
#endif

#include <sdrt.h>

namespace sdrt {

// ---------------------------------------------------------------------------------------------
// Errors

/// A failed call: its status and the message sdrt_last_error_message gave right after it.
/// Thrown by Result::value() on an error.
class Error : public std::exception {
  public:
    sdrt_status status = SDRT_ERROR_INTERNAL;
    std::string message;

    Error() { remember(); }
    Error(sdrt_status status_, std::string message_)
        : status(status_), message(std::move(message_)) {
        remember();
    }

    /// The status's name, e.g. "SDRT_ERROR_CANCELLED".
    const char *name() const noexcept { return sdrt_status_str(status); }
    /// "NAME: message", or "NAME" alone when the library gave no message.
    std::string describe() const {
        return message.empty() ? std::string(name()) : std::string(name()) + ": " + message;
    }
    /// describe(): the status and the message, so that a handler that prints only what()
    /// (`catch (const std::exception &e)`) never prints an empty line. Built when the Error
    /// is made (rebuilt if status or message were changed since); valid while it lives.
    const char *what() const noexcept override {
        if (what_status_ != status || what_message_ != message) {
#if SDRT_HPP_EXCEPTIONS
            try {
                remember();
            } catch (...) {
                return name();
            }
#else
            remember();
#endif
        }
        return what_.c_str();
    }

  private:
    void remember() const {
        what_ = describe();
        what_status_ = status;
        what_message_ = message;
    }
    // what()'s text and the fields it was built from (they are public).
    mutable std::string what_;
    mutable sdrt_status what_status_ = SDRT_OK;
    mutable std::string what_message_;
};

/// The error of the call that just returned `status` on this thread.
inline Error last_error(sdrt_status status) {
    return Error(status, std::string(sdrt_last_error_message()));
}

namespace detail {
[[noreturn]] inline void fail(const Error &error) {
#if SDRT_HPP_EXCEPTIONS
    throw error;
#else
    std::fprintf(stderr, "sdrt: Result::value() on an error: %s\n", error.describe().c_str());
    std::abort();
#endif
}
} // namespace detail

/// Either a T or an Error. value() throws the Error (see the top of this file).
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T &value() & {
        check();
        return std::get<0>(v_);
    }
    const T &value() const & {
        check();
        return std::get<0>(v_);
    }
    T &&value() && {
        check();
        return std::get<0>(std::move(v_));
    }
    /// The error; only when !ok().
    const Error &error() const { return std::get<1>(v_); }
    /// The status: SDRT_OK, or the error's.
    sdrt_status status() const noexcept { return ok() ? SDRT_OK : std::get<1>(v_).status; }

  private:
    void check() const {
        if (!ok()) {
            detail::fail(std::get<1>(v_));
        }
    }

    std::variant<T, Error> v_;
};

/// Result of a call with no value.
using Status = Result<std::monostate>;

// ---------------------------------------------------------------------------------------------
// Versions and the runtime

/// The loaded library's version, "MAJOR.MINOR.PATCH".
inline const char *version() noexcept { return sdrt_version(); }

/// Loads ONNX Runtime (optional; see sdrt_runtime_init). `options` may be null.
inline Status init_runtime(const sdrt_runtime_options *options = nullptr) {
    sdrt_status status = sdrt_runtime_init(options);
    if (status != SDRT_OK) {
        return last_error(status);
    }
    return std::monostate{};
}

/// Loads the ONNX Runtime library at `ort_library_path` (see sdrt_runtime_init).
inline Status init_runtime(const std::string &ort_library_path) {
    sdrt_runtime_options options;
    sdrt_runtime_options_init(&options);
    options.ort_library_path = ort_library_path.c_str();
    return init_runtime(&options);
}

/// The loaded ONNX Runtime's version, or null before the runtime is initialized.
inline const char *ort_version() noexcept { return sdrt_runtime_ort_version(); }

/// Empties the graph cache in `dir` (see sdrt_graph_cache_clear); the bytes freed.
inline Result<uint64_t> clear_graph_cache(const std::string &dir) {
    uint64_t freed = 0;
    sdrt_status status = sdrt_graph_cache_clear(dir.c_str(), &freed);
    if (status != SDRT_OK) {
        return last_error(status);
    }
    return freed;
}

/// Every device of every execution provider ONNX Runtime knows, as sdrt_ep_devices' JSON
/// array, after registering the plugin library `plugin_library` when it is not empty.
inline Result<std::string> ep_devices(const std::string &plugin_library = std::string()) {
    const char *library = plugin_library.empty() ? nullptr : plugin_library.c_str();
    for (;;) { // the list can grow between the calls (another thread registering a library)
        size_t needed = 0;
        sdrt_status status = sdrt_ep_devices(library, nullptr, 0, &needed);
        if (status != SDRT_OK) {
            return last_error(status);
        }
        std::string text(needed, '\0');
        status = sdrt_ep_devices(library, text.data(), text.size(), &needed);
        if (status == SDRT_OK) {
            text.resize(needed - 1);
            return text;
        }
        if (needed <= text.size()) {
            return last_error(status);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pixels

/// Pixels someone else owns: `height` rows of `width` pixels, row y at `data + y * stride`
/// (stride 0 = packed). The same layout as sdrt_image_view.
struct ImageView {
    const uint8_t *data = nullptr;
    uint32_t width = 0;
    uint32_t height = 0;
    uint32_t stride = 0;
    sdrt_pixel_format format = SDRT_PIXEL_FORMAT_DEFAULT;

    constexpr ImageView() noexcept = default;
    constexpr ImageView(const uint8_t *data_, uint32_t width_, uint32_t height_,
                        uint32_t stride_, sdrt_pixel_format format_) noexcept
        : data(data_), width(width_), height(height_), stride(stride_), format(format_) {}

    static constexpr ImageView rgb8(const uint8_t *data, uint32_t width, uint32_t height,
                                    uint32_t stride = 0) noexcept {
        return ImageView(data, width, height, stride, SDRT_PIXEL_FORMAT_RGB8);
    }
    static constexpr ImageView rgba8(const uint8_t *data, uint32_t width, uint32_t height,
                                     uint32_t stride = 0) noexcept {
        return ImageView(data, width, height, stride, SDRT_PIXEL_FORMAT_RGBA8);
    }
    static constexpr ImageView gray8(const uint8_t *data, uint32_t width, uint32_t height,
                                     uint32_t stride = 0) noexcept {
        return ImageView(data, width, height, stride, SDRT_PIXEL_FORMAT_GRAY8);
    }

    constexpr bool empty() const noexcept { return data == nullptr; }
    /// 3, 4 or 1; 0 for SDRT_PIXEL_FORMAT_DEFAULT (whose meaning depends on the field).
    constexpr uint32_t bytes_per_pixel() const noexcept {
        return format == SDRT_PIXEL_FORMAT_RGB8    ? 3u
               : format == SDRT_PIXEL_FORMAT_RGBA8 ? 4u
               : format == SDRT_PIXEL_FORMAT_GRAY8 ? 1u
                                                   : 0u;
    }
    /// Bytes from one row to the next (the packed width when stride is 0).
    constexpr std::size_t row_bytes() const noexcept {
        return stride != 0 ? std::size_t{stride} : std::size_t{width} * bytes_per_pixel();
    }
    /// The bytes the view spans: every row but the last at row_bytes(), the last packed.
    constexpr std::size_t size_bytes() const noexcept {
        return height == 0 ? 0
                           : row_bytes() * (height - 1u) +
                                 std::size_t{width} * bytes_per_pixel();
    }
    const uint8_t *row(uint32_t y) const noexcept { return data + row_bytes() * y; }

    sdrt_image_view c_view() const noexcept {
        sdrt_image_view v;
        v.data = data;
        v.width = width;
        v.height = height;
        v.stride = stride;
        v.format = format;
        return v;
    }
};

// ---------------------------------------------------------------------------------------------
// Handles

/// Latents someone else owns: `count x channels x height x width` floats, row-major, in the
/// latent space named `family` ("sd", "sdxl"). The same layout as sdrt_latents.
struct LatentsView {
    const float *data = nullptr;
    uint32_t count = 0;
    uint32_t channels = 0;
    uint32_t height = 0;
    uint32_t width = 0;
    const char *family = nullptr;

    constexpr bool empty() const noexcept { return data == nullptr; }
    /// Floats in the view.
    constexpr std::size_t size() const noexcept {
        return std::size_t{count} * channels * height * width;
    }

    sdrt_latents c_view() const noexcept {
        sdrt_latents v;
        v.struct_size = static_cast<uint32_t>(sizeof v);
        v.count = count;
        v.channels = channels;
        v.height = height;
        v.width = width;
        v.data = data;
        v.family = family;
        return v;
    }
};

struct PipelineDeleter {
    void operator()(sdrt_pipeline *p) const noexcept { sdrt_pipeline_free(p); }
};
struct ImagesDeleter {
    void operator()(sdrt_images *p) const noexcept { sdrt_images_free(p); }
};
using PipelinePtr = std::unique_ptr<sdrt_pipeline, PipelineDeleter>;
using ImagesPtr = std::unique_ptr<sdrt_images, ImagesDeleter>;

/// Generated RGB8 images; move-only, freed on destruction. Read-only: any thread may read.
class Images {
  public:
    explicit Images(ImagesPtr raw) noexcept : raw_(std::move(raw)) {}

    uint32_t count() const noexcept { return sdrt_images_count(raw_.get()); }
    uint32_t width() const noexcept { return sdrt_images_width(raw_.get()); }
    uint32_t height() const noexcept { return sdrt_images_height(raw_.get()); }
    uint32_t channels() const noexcept { return sdrt_images_channels(raw_.get()); }
    /// Bytes per image: width * height * channels.
    std::size_t size_bytes() const noexcept {
        return std::size_t{width()} * std::size_t{height()} * std::size_t{channels()};
    }
    /// Pixels of image `index`, or nullptr when out of range.
    const uint8_t *data(uint32_t index) const noexcept {
        return sdrt_images_data(raw_.get(), index);
    }
    /// Image `index` as a packed RGB8 view (empty when out of range), valid while this lives.
    ImageView view(uint32_t index) const noexcept {
        const uint8_t *pixels = data(index);
        if (pixels == nullptr) {
            return ImageView();
        }
        return ImageView::rgb8(pixels, width(), height(), width() * 3u);
    }
    /// Whether the model's safety checker flagged (and blacked out) image `index`.
    bool flagged(uint32_t index) const noexcept {
        return sdrt_images_flagged(raw_.get(), index) != 0;
    }
    /// Whether a safety checker ran on these images.
    bool safety_checked() const noexcept { return sdrt_images_safety_checked(raw_.get()) != 0; }
    /// The latents of a call made with Params::output_latents(true), as a view owned by these
    /// Images (valid while they live; see sdrt_images_latents). An error for images of a call
    /// without it.
    Result<LatentsView> latents() const {
        sdrt_latents out;
        out.struct_size = static_cast<uint32_t>(sizeof out);
        sdrt_status status = sdrt_images_latents(raw_.get(), &out);
        if (status != SDRT_OK) {
            return last_error(status);
        }
        LatentsView v;
        v.data = out.data;
        v.count = out.count;
        v.channels = out.channels;
        v.height = out.height;
        v.width = out.width;
        v.family = out.family;
        return v;
    }
    const sdrt_images *get() const noexcept { return raw_.get(); }

  private:
    ImagesPtr raw_;
};

namespace detail {
/// What a Pipeline's Loras share with it: its C pipeline while it lives. The Pipeline holds
/// the only strong reference, and drops it when it frees the C pipeline; a Lora holds a weak
/// one, so that it frees itself only while its pipeline lives.
struct LoraOwner {
    sdrt_pipeline *pipeline = nullptr;
};
} // namespace detail

/// A LoRA loaded into one Pipeline (Pipeline::load_lora); move-only, freed on destruction
/// (sdrt_lora_free) while its Pipeline lives, else already freed with it. Give it to that
/// pipeline's calls with Params::lora(lora, scale).
class Lora {
  public:
    /// An empty handle (a call given it is refused: a NULL LoRA).
    Lora() noexcept = default;
    Lora(Lora &&other) noexcept
        : owner_(std::move(other.owner_)), raw_(std::exchange(other.raw_, nullptr)) {}
    Lora &operator=(Lora &&other) noexcept {
        if (this != &other) {
            static_cast<void>(drop());
            owner_ = std::move(other.owner_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    Lora(const Lora &) = delete;
    Lora &operator=(const Lora &) = delete;
    ~Lora() { static_cast<void>(drop()); }

    /// Frees it now (sdrt_lora_free; waits for a call in progress on the pipeline) and empties
    /// this handle. Nothing to do (ok) when empty or when the pipeline is gone (it freed it).
    Status free() {
        sdrt_status status = drop();
        if (status != SDRT_OK) {
            return last_error(status);
        }
        return std::monostate{};
    }

    /// Whether it holds a LoRA whose pipeline still lives.
    bool loaded() const noexcept { return raw_ != nullptr && !owner_.expired(); }
    explicit operator bool() const noexcept { return loaded(); }
    /// The C handle (null when empty), for sdrt_generate_params.loras yourself.
    const sdrt_lora *get() const noexcept { return raw_; }

  private:
    friend class Pipeline;
    Lora(std::weak_ptr<detail::LoraOwner> owner, sdrt_lora *raw) noexcept
        : owner_(std::move(owner)), raw_(raw) {}

    /// free() without the message: what the destructor and move-assignment call.
    sdrt_status drop() noexcept {
        sdrt_lora *raw = std::exchange(raw_, nullptr);
        std::shared_ptr<detail::LoraOwner> owner = owner_.lock();
        owner_.reset();
        if (raw == nullptr || !owner || owner->pipeline == nullptr) {
            return SDRT_OK;
        }
        return sdrt_lora_free(owner->pipeline, raw);
    }

    std::weak_ptr<detail::LoraOwner> owner_;
    sdrt_lora *raw_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Callbacks

/// What a step callback sees after each UNet evaluation; valid only during the callback,
/// previews included (copy what you keep).
class StepInfo {
  public:
    explicit StepInfo(const sdrt_step_info &info) noexcept : info_(info) {}

    uint32_t step() const noexcept { return info_.step; }
    uint32_t total_steps() const noexcept { return info_.total_steps; }
    double timestep() const noexcept {
        return has(offsetof(sdrt_step_info, timestep), 8) ? info_.timestep : 0.0;
    }
    double elapsed_seconds() const noexcept {
        return has(offsetof(sdrt_step_info, elapsed_seconds), 8) ? info_.elapsed_seconds : 0.0;
    }
    /// SDRT_PREVIEW_NONE on steps without a preview.
    sdrt_preview_kind preview_kind() const noexcept {
        return has_preview() ? static_cast<sdrt_preview_kind>(info_.preview_kind)
                             : SDRT_PREVIEW_NONE;
    }
    bool has_preview() const noexcept {
        return has(offsetof(sdrt_step_info, preview_count), 4) && info_.preview != nullptr &&
               info_.preview_count != 0;
    }
    /// Images in the preview (the call's count); 0 on steps without one.
    uint32_t preview_count() const noexcept { return has_preview() ? info_.preview_count : 0; }
    /// Preview image `index` as a packed RGB8 view, empty when there is none.
    ImageView preview(uint32_t index = 0) const noexcept {
        if (!has_preview() || index >= info_.preview_count) {
            return ImageView();
        }
        const std::size_t bytes = std::size_t{info_.preview_width} * info_.preview_height * 3u;
        return ImageView::rgb8(info_.preview + bytes * index, info_.preview_width,
                               info_.preview_height, info_.preview_width * 3u);
    }
    const sdrt_step_info &raw() const noexcept { return info_; }

  private:
    bool has(std::size_t offset, std::size_t size) const noexcept {
        return info_.struct_size >= offset + size;
    }

    const sdrt_step_info &info_;
};

/// `bool(uint32_t step, uint32_t total_steps)`: false cancels.
using ProgressFn = std::function<bool(uint32_t, uint32_t)>;
/// `bool(const StepInfo &)`: false cancels.
using StepFn = std::function<bool(const StepInfo &)>;
/// `void(sdrt_log_level, std::string_view message)`; any thread, concurrently.
using LogFn = std::function<void(sdrt_log_level, std::string_view)>;

namespace detail {

template <typename T>
struct is_std_function : std::false_type {};
template <typename R, typename... A>
struct is_std_function<std::function<R(A...)>> : std::true_type {};

/// Wraps a callable returning void (= always continue) or something convertible to bool; an
/// empty std::function or a null function pointer gives an empty std::function (no callback).
template <typename R, typename F, typename... Args>
std::function<R(Args...)> as_continue_fn(F &&f) {
    using Fn = std::decay_t<F>;
    if constexpr (is_std_function<Fn>::value || std::is_pointer_v<Fn>) {
        if (!f) {
            return {};
        }
    }
    if constexpr (std::is_void_v<std::invoke_result_t<Fn &, Args...>>) {
        return [fn = Fn(std::forward<F>(f))](Args... args) mutable -> R {
            fn(args...);
            return true;
        };
    } else {
        return [fn = Fn(std::forward<F>(f))](Args... args) mutable -> R {
            return static_cast<bool>(fn(args...));
        };
    }
}

/// One generate() call's callbacks and the exception one of them threw.
struct CallState {
    const ProgressFn *progress = nullptr;
    const StepFn *step = nullptr;
#if SDRT_HPP_EXCEPTIONS
    std::exception_ptr error;
#endif

    template <typename F>
    int32_t call(F &&f) noexcept {
#if SDRT_HPP_EXCEPTIONS
        if (error) {
            return 0; // a callback already threw: stay cancelled
        }
        try {
            return f() ? 1 : 0;
        } catch (...) {
            error = std::current_exception();
            return 0;
        }
#else
        return f() ? 1 : 0;
#endif
    }

    void rethrow_if_any() {
#if SDRT_HPP_EXCEPTIONS
        if (error) {
            std::rethrow_exception(error);
        }
#endif
    }
};

inline int32_t progress_trampoline(void *user_data, uint32_t step, uint32_t total) noexcept {
    CallState *state = static_cast<CallState *>(user_data);
    return state->call([&] { return (*state->progress)(step, total); });
}

inline int32_t step_trampoline(void *user_data, const sdrt_step_info *info) noexcept {
    CallState *state = static_cast<CallState *>(user_data);
    return state->call([&] { return (*state->step)(StepInfo(*info)); });
}

inline void log_trampoline(void *user_data, uint32_t level, const char *message) noexcept {
#if SDRT_HPP_EXCEPTIONS
    try {
        (*static_cast<const LogFn *>(user_data))(static_cast<sdrt_log_level>(level),
                                                 std::string_view(message));
    } catch (...) {
        // Nowhere to rethrow: this may be one of ONNX Runtime's threads.
    }
#else
    (*static_cast<const LogFn *>(user_data))(static_cast<sdrt_log_level>(level),
                                             std::string_view(message));
#endif
}

/// A callable taking (step, total) as an sdrt_progress_callback (the raw-params overload).
template <typename F>
int32_t raw_progress_trampoline(void *user_data, uint32_t step, uint32_t total) noexcept {
    auto *state = static_cast<std::pair<F *, CallState *> *>(user_data);
    return state->second->call([&] { return static_cast<bool>((*state->first)(step, total)); });
}

} // namespace detail

// ---------------------------------------------------------------------------------------------
// Builders

/// One ControlNet of a call (see sdrt_controlnet): `model` is a folder name under the model's
/// controlnet/ or a path with a '/'; `image` a view of the output's size whose pixels must stay
/// valid until generate() returns. Since 0.5.
struct ControlNet {
    std::string model;
    ImageView image;
    /// controlnet_conditioning_scale.
    float scale = 1.0f;
    /// control_guidance_start / control_guidance_end, fractions of the steps.
    float start = 0.0f;
    float end = 1.0f;
    /// diffusers' guess_mode.
    bool guess_mode = false;
};

/// One generate request, starting from sdrt_generate_params_init's defaults. Setters return
/// *this; each getter of the same name reads the field. Strings are copied in; the init image
/// and mask are views whose pixels must stay valid until generate() returns.
class Params {
  public:
    Params() noexcept { sdrt_generate_params_init(&raw_); }

    Params &prompt(std::string text) {
        prompt_ = std::move(text);
        return *this;
    }
    const std::string &prompt() const noexcept { return prompt_; }
    /// The negative prompt; none by default.
    Params &negative_prompt(std::string text) {
        negative_ = std::move(text);
        return *this;
    }
    const std::optional<std::string> &negative_prompt() const noexcept { return negative_; }

    /// 0 = the model's native size.
    Params &width(uint32_t px) noexcept { return set(raw_.width, px); }
    uint32_t width() const noexcept { return raw_.width; }
    Params &height(uint32_t px) noexcept { return set(raw_.height, px); }
    uint32_t height() const noexcept { return raw_.height; }
    Params &size(uint32_t w, uint32_t h) noexcept { return width(w).height(h); }
    Params &steps(uint32_t n) noexcept { return set(raw_.steps, n); }
    uint32_t steps() const noexcept { return raw_.steps; }
    Params &guidance(float g) noexcept { return set(raw_.guidance, g); }
    float guidance() const noexcept { return raw_.guidance; }
    Params &scheduler(sdrt_scheduler s) noexcept { return set(raw_.scheduler, uint32_t{s}); }
    sdrt_scheduler scheduler() const noexcept {
        return static_cast<sdrt_scheduler>(raw_.scheduler);
    }
    Params &seed(uint64_t s) noexcept { return set(raw_.seed, s); }
    uint64_t seed() const noexcept { return raw_.seed; }
    Params &generator(sdrt_generator g) noexcept { return set(raw_.generator, uint32_t{g}); }
    sdrt_generator generator() const noexcept {
        return static_cast<sdrt_generator>(raw_.generator);
    }
    Params &count(uint32_t n) noexcept { return set(raw_.count, n); }
    uint32_t count() const noexcept { return raw_.count; }
    Params &eta(float e) noexcept { return set(raw_.eta, e); }
    float eta() const noexcept { return raw_.eta; }
    Params &prediction_type(sdrt_prediction_type p) noexcept {
        return set(raw_.prediction_type, uint32_t{p});
    }
    sdrt_prediction_type prediction_type() const noexcept {
        return static_cast<sdrt_prediction_type>(raw_.prediction_type);
    }
    Params &timestep_spacing(sdrt_timestep_spacing t) noexcept {
        return set(raw_.timestep_spacing, uint32_t{t});
    }
    sdrt_timestep_spacing timestep_spacing() const noexcept {
        return static_cast<sdrt_timestep_spacing>(raw_.timestep_spacing);
    }
    /// Image-to-image / inpainting: the picture to start from (RGB8 or RGBA8).
    Params &init_image(ImageView view) noexcept {
        init_image_ = view;
        return *this;
    }
    const ImageView &init_image() const noexcept { return init_image_; }
    /// Inpainting: GRAY8, white repaints.
    Params &mask(ImageView view) noexcept {
        mask_ = view;
        return *this;
    }
    const ImageView &mask() const noexcept { return mask_; }
    Params &strength(float s) noexcept { return set(raw_.strength, s); }
    float strength() const noexcept { return raw_.strength; }
    Params &guidance_rescale(float r) noexcept { return set(raw_.guidance_rescale, r); }
    float guidance_rescale() const noexcept { return raw_.guidance_rescale; }
    /// Previews of `kind` every `every` UNet evaluations (and after the last).
    Params &preview(sdrt_preview_kind kind, uint32_t every = 1) noexcept {
        raw_.preview_kind = kind;
        raw_.preview_every = every;
        return *this;
    }
    sdrt_preview_kind preview_kind() const noexcept {
        return static_cast<sdrt_preview_kind>(raw_.preview_kind);
    }
    uint32_t preview_every() const noexcept { return raw_.preview_every; }
    Params &memory_limit(uint64_t bytes) noexcept { return set(raw_.memory_limit, bytes); }
    uint64_t memory_limit() const noexcept { return raw_.memory_limit; }
    /// SDRT_PROMPT_WEIGHTING_A1111: A1111's emphasis syntax and long prompts in chunks.
    Params &prompt_weighting(sdrt_prompt_weighting w) noexcept {
        return set(raw_.prompt_weighting, uint32_t{w});
    }
    sdrt_prompt_weighting prompt_weighting() const noexcept {
        return static_cast<sdrt_prompt_weighting>(raw_.prompt_weighting);
    }
    /// Applies `lora` (loaded into the pipeline this call runs on) at `scale` (1 = as
    /// trained; diffusers' adapter weight or lora_scale); each call appends one, and several
    /// add up. The handle is copied: keep the Lora loaded until generate() returns (a freed
    /// one is refused).
    Params &lora(const Lora &handle, float scale = 1.0f) {
        return lora(handle.get(), scale);
    }
    /// The same with a C handle from sdrt_lora_load.
    Params &lora(const sdrt_lora *handle, float scale = 1.0f) {
        sdrt_lora_weight w;
        w.lora = handle;
        w.scale = scale;
        loras_.push_back(w);
        return *this;
    }
    /// Removes every LoRA from the request.
    Params &clear_loras() noexcept {
        loras_.clear();
        return *this;
    }
    const std::vector<sdrt_lora_weight> &loras() const noexcept { return loras_; }

    // SDXL (see sdrt_generate_params): sizes are (width, height), crops (x, y); 0 x 0 sizes
    // are the output size.
    /// The second text encoder's prompt; none (= prompt) by default.
    Params &prompt_2(std::string text) {
        prompt_2_ = std::move(text);
        return *this;
    }
    const std::optional<std::string> &prompt_2() const noexcept { return prompt_2_; }
    /// The second text encoder's negative prompt; none (= negative_prompt) by default.
    Params &negative_prompt_2(std::string text) {
        negative_2_ = std::move(text);
        return *this;
    }
    const std::optional<std::string> &negative_prompt_2() const noexcept { return negative_2_; }
    Params &original_size(uint32_t w, uint32_t h) noexcept {
        return pair(raw_.original_width, raw_.original_height, w, h);
    }
    std::pair<uint32_t, uint32_t> original_size() const noexcept {
        return {raw_.original_width, raw_.original_height};
    }
    /// crops_coords_top_left as x (left) and y (top).
    Params &crop(uint32_t x, uint32_t y) noexcept { return pair(raw_.crop_x, raw_.crop_y, x, y); }
    std::pair<uint32_t, uint32_t> crop() const noexcept { return {raw_.crop_x, raw_.crop_y}; }
    Params &target_size(uint32_t w, uint32_t h) noexcept {
        return pair(raw_.target_width, raw_.target_height, w, h);
    }
    std::pair<uint32_t, uint32_t> target_size() const noexcept {
        return {raw_.target_width, raw_.target_height};
    }
    Params &negative_original_size(uint32_t w, uint32_t h) noexcept {
        return pair(raw_.negative_original_width, raw_.negative_original_height, w, h);
    }
    std::pair<uint32_t, uint32_t> negative_original_size() const noexcept {
        return {raw_.negative_original_width, raw_.negative_original_height};
    }
    Params &negative_crop(uint32_t x, uint32_t y) noexcept {
        return pair(raw_.negative_crop_x, raw_.negative_crop_y, x, y);
    }
    std::pair<uint32_t, uint32_t> negative_crop() const noexcept {
        return {raw_.negative_crop_x, raw_.negative_crop_y};
    }
    Params &negative_target_size(uint32_t w, uint32_t h) noexcept {
        return pair(raw_.negative_target_width, raw_.negative_target_height, w, h);
    }
    std::pair<uint32_t, uint32_t> negative_target_size() const noexcept {
        return {raw_.negative_target_width, raw_.negative_target_height};
    }
    /// A refiner's aesthetic scores (defaults 6.0 and 2.5).
    Params &aesthetic_score(float s) noexcept { return set(raw_.aesthetic_score, s); }
    float aesthetic_score() const noexcept { return raw_.aesthetic_score; }
    Params &negative_aesthetic_score(float s) noexcept {
        return set(raw_.negative_aesthetic_score, s);
    }
    float negative_aesthetic_score() const noexcept { return raw_.negative_aesthetic_score; }
    /// Continue latents() from this fraction of the schedule (a refiner); 0 = none.
    Params &denoising_start(float f) noexcept { return set(raw_.denoising_start, f); }
    float denoising_start() const noexcept { return raw_.denoising_start; }
    /// Stop at this fraction of the schedule (a base before its refiner); 0 = none.
    Params &denoising_end(float f) noexcept { return set(raw_.denoising_end, f); }
    float denoising_end() const noexcept { return raw_.denoising_end; }
    /// Return latents (Images::latents()) instead of images.
    Params &output_latents(bool on) noexcept { return set(raw_.output_latents, on ? 1u : 0u); }
    bool output_latents() const noexcept { return raw_.output_latents != 0; }
    /// Latents to start from (Images::latents() of a call with output_latents), borrowed
    /// until generate() returns; an empty view = none.
    Params &latents(LatentsView view) noexcept {
        latents_ = view;
        c_latents_ = view.c_view();
        return *this;
    }
    const LatentsView &latents() const noexcept { return latents_; }
    /// Adds a ControlNet (several add their residuals); the model's UNet must take them.
    Params &controlnet(ControlNet c) {
        controlnets_.push_back(std::move(c));
        c_controlnets_.resize(controlnets_.size());
        return *this;
    }
    const std::vector<ControlNet> &controlnets() const noexcept { return controlnets_; }
    /// Removes every ControlNet.
    Params &clear_controlnets() noexcept {
        controlnets_.clear();
        c_controlnets_.clear();
        return *this;
    }

    /// `f(step, total_steps)` after each step; returning false cancels, void continues.
    template <typename F>
    Params &on_progress(F &&f) {
        progress_ = detail::as_continue_fn<bool, F, uint32_t, uint32_t>(std::forward<F>(f));
        return *this;
    }
    /// `f(const StepInfo &)` after each UNet evaluation, previews included; false cancels.
    template <typename F>
    Params &on_step(F &&f) {
        step_ = detail::as_continue_fn<bool, F, const StepInfo &>(std::forward<F>(f));
        return *this;
    }
    const ProgressFn &progress_callback() const noexcept { return progress_; }
    const StepFn &step_callback() const noexcept { return step_; }

    /// The C struct, for calling sdrt_pipeline_generate yourself: its strings, latents and
    /// LoRA array point into this object (valid while it lives unchanged); no callbacks are set.
    sdrt_generate_params c_params() const noexcept {
        sdrt_generate_params p = raw_;
        p.prompt = prompt_.c_str();
        p.negative_prompt = negative_ ? negative_->c_str() : nullptr;
        p.init_image = init_image_.c_view();
        p.mask = mask_.c_view();
        p.prompt_2 = prompt_2_ ? prompt_2_->c_str() : nullptr;
        p.negative_prompt_2 = negative_2_ ? negative_2_->c_str() : nullptr;
        p.latents = latents_.empty() ? nullptr : &c_latents_;
        // c_controlnets_ has controlnets_'s size (the setters keep it): filled, not grown.
        for (size_t i = 0; i < controlnets_.size() && i < c_controlnets_.size(); ++i) {
            sdrt_controlnet &c = c_controlnets_[i];
            sdrt_controlnet_init(&c);
            c.model = controlnets_[i].model.c_str();
            c.image = controlnets_[i].image.c_view();
            c.scale = controlnets_[i].scale;
            c.start = controlnets_[i].start;
            c.end = controlnets_[i].end;
            c.guess_mode = controlnets_[i].guess_mode ? 1u : 0u;
        }
        p.controlnets = controlnets_.empty() ? nullptr : c_controlnets_.data();
        p.controlnet_count = static_cast<uint32_t>(controlnets_.size());
        p.loras = loras_.empty() ? nullptr : loras_.data();
        p.lora_count = static_cast<uint32_t>(loras_.size());
        return p;
    }

  private:
    template <typename Field, typename Value>
    Params &set(Field &field, Value value) noexcept {
        field = value;
        return *this;
    }
    Params &pair(uint32_t &a, uint32_t &b, uint32_t va, uint32_t vb) noexcept {
        a = va;
        b = vb;
        return *this;
    }

    sdrt_generate_params raw_;
    std::string prompt_;
    std::optional<std::string> negative_;
    std::optional<std::string> prompt_2_;
    std::optional<std::string> negative_2_;
    ImageView init_image_;
    ImageView mask_;
    LatentsView latents_;
    sdrt_latents c_latents_{}; // latents_ as C, what c_params() points `latents` at
    std::vector<ControlNet> controlnets_;
    // controlnets_ as C, refilled by c_params() (the C struct points into controlnets_).
    mutable std::vector<sdrt_controlnet> c_controlnets_;
    std::vector<sdrt_lora_weight> loras_;
    ProgressFn progress_;
    StepFn step_;
};

/// How to load a pipeline, starting from sdrt_pipeline_options_init's defaults.
class PipelineOptions {
  public:
    PipelineOptions() noexcept { sdrt_pipeline_options_init(&raw_); }

    PipelineOptions &provider(sdrt_provider p) noexcept {
        raw_.provider = p;
        return *this;
    }
    sdrt_provider provider() const noexcept { return static_cast<sdrt_provider>(raw_.provider); }
    /// A missing provider is an error instead of a fallback to CPU.
    PipelineOptions &strict_provider(bool strict) noexcept {
        raw_.strict_provider = strict ? 1u : 0u;
        return *this;
    }
    bool strict_provider() const noexcept { return raw_.strict_provider != 0; }
    PipelineOptions &cuda_device_id(int32_t id) noexcept {
        raw_.cuda_device_id = id;
        return *this;
    }
    int32_t cuda_device_id() const noexcept { return raw_.cuda_device_id; }
    PipelineOptions &intra_op_threads(uint32_t n) noexcept {
        raw_.intra_op_threads = n;
        return *this;
    }
    uint32_t intra_op_threads() const noexcept { return raw_.intra_op_threads; }
    PipelineOptions &coreml_compute_units(sdrt_coreml_compute_units u) noexcept {
        raw_.coreml_compute_units = u;
        return *this;
    }
    PipelineOptions &coreml_ml_program(bool on) noexcept {
        raw_.coreml_ml_program = on ? 1u : 0u;
        return *this;
    }
    /// CoreML static shapes: every generate call then uses exactly this size and count.
    PipelineOptions &coreml_static_shapes(uint32_t width, uint32_t height,
                                          uint32_t count = 1) noexcept {
        raw_.coreml_static_shapes = 1;
        raw_.static_width = width;
        raw_.static_height = height;
        raw_.static_count = count;
        return *this;
    }
    PipelineOptions &coreml_cache_dir(std::string dir) {
        coreml_cache_dir_ = std::move(dir);
        return *this;
    }
    PipelineOptions &preview_decoder_path(std::string path) {
        preview_decoder_path_ = std::move(path);
        return *this;
    }
    PipelineOptions &graph_cache_dir(std::string dir) {
        graph_cache_dir_ = std::move(dir);
        return *this;
    }
    /// The plugin providers (SDRT_PROVIDER_OPENVINO, SDRT_PROVIDER_PLUGIN; see `ep_*` in
    /// sdrt.h): the device, OpenVINO's precision, the library, the provider's name, and its
    /// options (each call appends one).
    PipelineOptions &ep_device(sdrt_ep_device d) noexcept {
        raw_.ep_device = d;
        return *this;
    }
    PipelineOptions &ep_precision(sdrt_ep_precision p) noexcept {
        raw_.ep_precision = p;
        return *this;
    }
    PipelineOptions &ep_library_path(std::string path) {
        ep_library_path_ = std::move(path);
        return *this;
    }
    PipelineOptions &ep_name(std::string name) {
        ep_name_ = std::move(name);
        return *this;
    }
    PipelineOptions &ep_option(std::string key, std::string value) {
        ep_options_.emplace_back(std::move(key), std::move(value));
        return *this;
    }
    /// Low-memory mode: only the running stage's graph is held (see `low_memory` in sdrt.h).
    PipelineOptions &low_memory(bool on = true) noexcept {
        raw_.low_memory = on ? 1u : 0u;
        return *this;
    }
    bool low_memory() const noexcept { return raw_.low_memory != 0; }
    PipelineOptions &disable_safety_checker(bool off = true) noexcept {
        raw_.disable_safety_checker = off ? 1u : 0u;
        return *this;
    }
    /// This pipeline's own log callback: `f(sdrt_log_level, std::string_view)` for messages
    /// at `level` or more severe. It runs on any thread, possibly concurrently, while
    /// create, generate or the pipeline's destruction runs; an exception it throws is dropped.
    template <typename F>
    PipelineOptions &log(F &&f, sdrt_log_level level = SDRT_LOG_WARN) {
        log_ = LogFn(std::forward<F>(f));
        raw_.log_level = level;
        return *this;
    }
    sdrt_log_level log_level() const noexcept {
        return static_cast<sdrt_log_level>(raw_.log_level);
    }
    const LogFn &log_callback() const noexcept { return log_; }

    /// The C struct: strings point into this object; no log callback is set.
    sdrt_pipeline_options c_options() const noexcept {
        sdrt_pipeline_options o = raw_;
        o.coreml_cache_dir = coreml_cache_dir_ ? coreml_cache_dir_->c_str() : nullptr;
        o.preview_decoder_path =
            preview_decoder_path_ ? preview_decoder_path_->c_str() : nullptr;
        o.graph_cache_dir = graph_cache_dir_ ? graph_cache_dir_->c_str() : nullptr;
        o.ep_library_path = ep_library_path_ ? ep_library_path_->c_str() : nullptr;
        o.ep_name = ep_name_ ? ep_name_->c_str() : nullptr;
        ep_keys_.clear();
        ep_values_.clear();
        for (const auto &kv : ep_options_) {
            ep_keys_.push_back(kv.first.c_str());
            ep_values_.push_back(kv.second.c_str());
        }
        o.ep_option_keys = ep_keys_.empty() ? nullptr : ep_keys_.data();
        o.ep_option_values = ep_values_.empty() ? nullptr : ep_values_.data();
        o.ep_option_count = static_cast<uint32_t>(ep_keys_.size());
        return o;
    }

  private:
    sdrt_pipeline_options raw_;
    std::optional<std::string> coreml_cache_dir_;
    std::optional<std::string> preview_decoder_path_;
    std::optional<std::string> graph_cache_dir_;
    std::optional<std::string> ep_library_path_;
    std::optional<std::string> ep_name_;
    std::vector<std::pair<std::string, std::string>> ep_options_;
    // The C arrays c_options() hands out, pointing into ep_options_.
    mutable std::vector<const char *> ep_keys_;
    mutable std::vector<const char *> ep_values_;
    LogFn log_;
};

// ---------------------------------------------------------------------------------------------
// Pipeline

/// A loaded model; move-only, freed on destruction. generate() may be called from several
/// threads (calls are serialized); cancel() from any thread.
class Pipeline {
  public:
    static Result<Pipeline> create(const std::string &model_dir,
                                   const PipelineOptions &options = PipelineOptions()) {
        sdrt_pipeline_options raw = options.c_options();
        std::unique_ptr<LogFn> log;
        if (options.log_callback()) {
            log = std::make_unique<LogFn>(options.log_callback());
            raw.log_callback = &detail::log_trampoline;
            raw.log_user_data = log.get();
        }
        sdrt_pipeline *out = nullptr;
        sdrt_status status = sdrt_pipeline_create(model_dir.c_str(), &raw, &out);
        if (status != SDRT_OK) {
            return last_error(status); // sdrt never calls the log callback again
        }
        return Pipeline(PipelinePtr(out), std::move(log));
    }

    /// With C options (null for defaults); a log callback there is the caller's to keep alive.
    static Result<Pipeline> create(const std::string &model_dir,
                                   const sdrt_pipeline_options *options) {
        sdrt_pipeline *out = nullptr;
        sdrt_status status = sdrt_pipeline_create(model_dir.c_str(), options, &out);
        if (status != SDRT_OK) {
            return last_error(status);
        }
        return Pipeline(PipelinePtr(out), nullptr);
    }

    Pipeline(Pipeline &&) noexcept = default;
    Pipeline &operator=(Pipeline &&other) noexcept {
        if (this != &other) {
            owner_.reset();               // our Loras go inert: sdrt frees them with ours
            raw_ = std::move(other.raw_); // frees ours while its log callback is still alive
            log_ = std::move(other.log_);
            owner_ = std::move(other.owner_);
        }
        return *this;
    }
    Pipeline(const Pipeline &) = delete;
    Pipeline &operator=(const Pipeline &) = delete;
    ~Pipeline() {
        owner_.reset(); // the Loras go inert: sdrt_pipeline_free frees them
        raw_.reset();   // before log_, which sdrt_pipeline_free may still call
    }

    Result<sdrt_pipeline_info> info() const {
        sdrt_pipeline_info out;
        sdrt_pipeline_info_init(&out);
        sdrt_status status = sdrt_pipeline_get_info(raw_.get(), &out);
        if (status != SDRT_OK) {
            return last_error(status);
        }
        return out;
    }

    /// Generates `params`. An exception from its callbacks cancels the call and is rethrown
    /// here after sdrt_pipeline_generate returns; otherwise nothing but std::bad_alloc throws.
    Result<Images> generate(const Params &params) {
        sdrt_generate_params raw = params.c_params();
        detail::CallState state;
        if (params.progress_callback()) {
            state.progress = &params.progress_callback();
            raw.progress = &detail::progress_trampoline;
            raw.progress_user_data = &state;
        }
        if (params.step_callback()) {
            state.step = &params.step_callback();
            raw.step_callback = &detail::step_trampoline;
            raw.step_user_data = &state;
        }
        return finish(raw, state);
    }

    /// Generates with C params as given (their callbacks must not throw).
    Result<Images> generate(const sdrt_generate_params &params) {
        detail::CallState state;
        return finish(params, state);
    }

    /// C params with `on_progress(step, total) -> bool` as the progress callback (false
    /// cancels); an exception from it is rethrown as with Params.
    template <typename F>
    Result<Images> generate(sdrt_generate_params params, F &&on_progress) {
        using Fn = std::remove_reference_t<F>;
        detail::CallState state;
        std::pair<Fn *, detail::CallState *> ctx(std::addressof(on_progress), &state);
        params.progress = &detail::raw_progress_trampoline<Fn>;
        params.progress_user_data = &ctx;
        return finish(params, state);
    }

    /// Loads the LoRA file at `path` into this pipeline (sdrt_lora_load: diffusers/PEFT or
    /// kohya safetensors; the first LoRA on a layer rebuilds the graphs it touches), for
    /// Params::lora to choose per call. The pipeline owns it: see Lora. Waits for a call in
    /// progress; from this pipeline's callbacks it is SDRT_ERROR_INVALID_ARGUMENT. Errors
    /// (the message names the file's first bad key): SDRT_ERROR_INVALID_ARGUMENT (not
    /// safetensors, a rank mismatch, a key matching no layer of this model, ...),
    /// SDRT_ERROR_MODEL_NOT_FOUND, SDRT_ERROR_IO, SDRT_ERROR_UNSUPPORTED; the pipeline keeps
    /// working.
    Result<Lora> load_lora(const std::string &path) {
        if (!owner_) {
            owner_ = std::make_shared<detail::LoraOwner>();
            owner_->pipeline = raw_.get();
        }
        sdrt_lora *out = nullptr;
        sdrt_status status = sdrt_lora_load(raw_.get(), path.c_str(), &out);
        if (status != SDRT_OK) {
            return last_error(status);
        }
        return Lora(owner_, out);
    }

    /// Cancels running and waiting generate() calls (see sdrt_pipeline_cancel).
    void cancel() noexcept { sdrt_pipeline_cancel(raw_.get()); }

    sdrt_pipeline *get() const noexcept { return raw_.get(); }

  private:
    Pipeline(PipelinePtr raw, std::unique_ptr<LogFn> log) noexcept
        : log_(std::move(log)), raw_(std::move(raw)) {}

    Result<Images> finish(const sdrt_generate_params &raw, detail::CallState &state) {
        sdrt_images *out = nullptr;
        sdrt_status status = sdrt_pipeline_generate(raw_.get(), &raw, &out);
        ImagesPtr images(out);
        Result<Images> result = status == SDRT_OK ? Result<Images>(Images(std::move(images)))
                                                  : Result<Images>(last_error(status));
        state.rethrow_if_any();
        return result;
    }

    // Declared first so it is destroyed last (the destructor frees raw_ explicitly anyway).
    std::unique_ptr<LogFn> log_;
    PipelinePtr raw_;
    // Shared with this pipeline's Loras (weakly), made by the first load_lora.
    std::shared_ptr<detail::LoraOwner> owner_;
};

} // namespace sdrt

#endif // SDRT_HPP
