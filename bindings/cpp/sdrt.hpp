// sdrt.hpp: a small header-only C++17 layer over the sdrt C API (include/sdrt.h).
//
// Handles are owned by std::unique_ptr with deleters that call the library's _free functions,
// so the wrapper types are move-only and free what they own exactly once. Fallible calls
// return a [[nodiscard]] sdrt::Result<T>, holding either the value or an sdrt::Error (status
// plus the thread-local message, copied). Nothing here throws except std::bad_alloc and the
// std::bad_variant_access of Result::value() on an error.
//
//     sdrt::Result<sdrt::Pipeline> pipeline = sdrt::Pipeline::create("models/sd2-base-onnx");
//     if (!pipeline) { std::cerr << pipeline.error().describe() << "\n"; return 1; }
//     sdrt_generate_params params;
//     sdrt_generate_params_init(&params);
//     params.prompt = "a lighthouse at night";
//     auto images = pipeline.value().generate(params, [](uint32_t step, uint32_t total) {
//         std::cerr << step << "/" << total << "\n";
//         return true; // false cancels
//     });

#ifndef SDRT_HPP
#define SDRT_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <sdrt.h>

namespace sdrt {

/// A failed call: its status and the message sdrt_last_error_message gave right after it.
struct Error {
    sdrt_status status = SDRT_ERROR_INTERNAL;
    std::string message;

    /// The status's name, e.g. "SDRT_ERROR_CANCELLED".
    const char *name() const noexcept { return sdrt_status_str(status); }
    /// "NAME: message".
    std::string describe() const { return std::string(name()) + ": " + message; }
};

/// Either a T or an Error.
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T &value() & { return std::get<0>(v_); }
    const T &value() const & { return std::get<0>(v_); }
    T &&value() && { return std::get<0>(std::move(v_)); }
    const Error &error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

/// The error of the call that just returned `status` on this thread.
inline Error last_error(sdrt_status status) {
    return Error{status, std::string(sdrt_last_error_message())};
}

struct PipelineDeleter {
    void operator()(sdrt_pipeline *p) const noexcept { sdrt_pipeline_free(p); }
};
struct ImagesDeleter {
    void operator()(sdrt_images *p) const noexcept { sdrt_images_free(p); }
};
using PipelinePtr = std::unique_ptr<sdrt_pipeline, PipelineDeleter>;
using ImagesPtr = std::unique_ptr<sdrt_images, ImagesDeleter>;

/// Loads ONNX Runtime (optional; see sdrt_runtime_init). `options` may be null.
inline Result<std::monostate> init_runtime(const sdrt_runtime_options *options = nullptr) {
    sdrt_status status = sdrt_runtime_init(options);
    if (status != SDRT_OK) {
        return last_error(status);
    }
    return std::monostate{};
}

/// Generated RGB8 images; move-only, freed on destruction.
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
    const sdrt_images *get() const noexcept { return raw_.get(); }

  private:
    ImagesPtr raw_;
};

/// A loaded model; move-only, freed on destruction. generate() may be called from several
/// threads (calls are serialized); cancel() from any thread.
class Pipeline {
  public:
    static Result<Pipeline> create(const std::string &model_dir,
                                   const sdrt_pipeline_options *options = nullptr) {
        sdrt_pipeline *raw = nullptr;
        sdrt_status status = sdrt_pipeline_create(model_dir.c_str(), options, &raw);
        if (status != SDRT_OK) {
            return last_error(status);
        }
        return Pipeline(PipelinePtr(raw));
    }

    Result<sdrt_pipeline_info> info() const {
        sdrt_pipeline_info info;
        sdrt_pipeline_info_init(&info);
        sdrt_status status = sdrt_pipeline_get_info(raw_.get(), &info);
        if (status != SDRT_OK) {
            return last_error(status);
        }
        return info;
    }

    /// Generates with `params` as given (its own progress callback, if any).
    Result<Images> generate(const sdrt_generate_params &params) {
        sdrt_images *raw = nullptr;
        sdrt_status status = sdrt_pipeline_generate(raw_.get(), &params, &raw);
        if (status != SDRT_OK) {
            return last_error(status);
        }
        return Images(ImagesPtr(raw));
    }

    /// Generates, calling `on_progress(step, total) -> bool` after each step (false cancels).
    /// An exception thrown by `on_progress` cancels the generation; it does not propagate
    /// through the C library.
    template <typename F>
    Result<Images> generate(sdrt_generate_params params, F &&on_progress) {
        params.progress = &Pipeline::trampoline<std::remove_reference_t<F>>;
        params.progress_user_data =
            const_cast<void *>(static_cast<const void *>(std::addressof(on_progress)));
        return generate(params);
    }

    /// Cancels running and waiting generate() calls (see sdrt_pipeline_cancel).
    void cancel() noexcept { sdrt_pipeline_cancel(raw_.get()); }

    sdrt_pipeline *get() const noexcept { return raw_.get(); }

  private:
    explicit Pipeline(PipelinePtr raw) noexcept : raw_(std::move(raw)) {}

    template <typename F>
    static int32_t trampoline(void *user_data, uint32_t step, uint32_t total) noexcept {
        try {
            return (*static_cast<F *>(user_data))(step, total) ? 1 : 0;
        } catch (...) {
            return 0;
        }
    }

    PipelinePtr raw_;
};

} // namespace sdrt

#endif // SDRT_HPP
