/*
 * The error paths of the sdrt C API, driven from C: runtime options before the runtime is
 * loaded, defaults, provider fallbacks, models that cannot inpaint, cancellation, callbacks,
 * threads and logging behave as the header says, out-parameters are left alone on failure.
 * Built and run by tests/c_api.rs (also under AddressSanitizer and valgrind). The table of
 * hostile values for every field and NULL for every pointer is tests/c/hostile.c.
 *
 *   api_errors MODEL_DIR ORT_LIBRARY      the main suite
 *   api_errors --quick MODEL_DIR ORT_LIBRARY
 *       the suite with one model load (no provider fallbacks, no concurrent generates), for
 *       slow checkers such as valgrind
 *   api_errors --no-model MODEL_DIR ORT_LIBRARY
 *       only the checks that load no model (the runtime is loaded), for valgrind
 *   api_errors --runtime-unavailable BOGUS_LIBRARY MODEL_DIR
 *       a fresh process where no candidate library exists: runtime init fails and lists
 *       what it tried, and so does sdrt_pipeline_create's default initialization
 *
 * Prints one line per check; exits 0 when all passed, 1 otherwise.
 */

#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdrt.h"

static int failures = 0;
static int checks = 0;
static int quick = 0;    /* --quick: fewer model loads and generations (valgrind) */
static int no_model = 0; /* --no-model: stop before the first model load */

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        checks++;                                                                            \
        if (!(cond)) {                                                                       \
            failures++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
        }                                                                                    \
    } while (0)

/* Checks a status, and for failures a non-empty message containing `needle` (or any message
 * when `needle` is NULL), which also proves the message belongs to this call. */
static void expect_at(int line, const char *call, sdrt_status got, sdrt_status want,
                      const char *needle) {
    const char *msg = got == SDRT_OK ? "" : sdrt_last_error_message();
    checks++;
    if (got != want) {
        failures++;
        fprintf(stderr, "FAIL line %d: %s\n    returned %s (%s), expected %s\n", line, call,
                sdrt_status_str(got), msg, sdrt_status_str(want));
        return;
    }
    if (want != SDRT_OK) {
        if (msg == NULL || msg[0] == '\0') {
            failures++;
            fprintf(stderr, "FAIL line %d: %s: %s with an empty message\n", line, call,
                    sdrt_status_str(got));
            return;
        }
        if (needle != NULL && strstr(msg, needle) == NULL) {
            failures++;
            fprintf(stderr, "FAIL line %d: %s: message \"%s\" lacks \"%s\"\n", line, call, msg,
                    needle);
            return;
        }
    }
    printf("ok   %-26s %s%s%s\n", sdrt_status_str(got), call, want != SDRT_OK ? ": " : "", msg);
}

#define EXPECT(call, want, needle) expect_at(__LINE__, #call, (call), (want), (needle))

/* ---------------------------------------------------------------------------------------- */
/* Log callback: records what it receives, thread-safely (it may run on ONNX Runtime's
 * threads, and concurrently). */

#define LOG_MAGIC 0x5D47u

typedef struct {
    unsigned magic;
    pthread_mutex_t lock;
    unsigned calls;
    unsigned bad_user_data;
    unsigned bad_level;
    unsigned fallbacks;
    unsigned truncations;
} log_sink;

static void on_log(void *user_data, uint32_t level, const char *message) {
    log_sink *sink = (log_sink *)user_data;
    if (sink == NULL || sink->magic != LOG_MAGIC) {
        /* Cannot count it anywhere safe: fail loudly. */
        fprintf(stderr, "FAIL log callback got user_data %p\n", user_data);
        abort();
    }
    pthread_mutex_lock(&sink->lock);
    sink->calls++;
    if (level < SDRT_LOG_ERROR || level > SDRT_LOG_DEBUG || message == NULL) {
        sink->bad_level++;
    } else {
        if (strstr(message, "falling back") != NULL) {
            sink->fallbacks++;
        }
        if (strstr(message, "truncated") != NULL) {
            sink->truncations++;
        }
    }
    pthread_mutex_unlock(&sink->lock);
}

static log_sink sink_a = {LOG_MAGIC, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};
static log_sink sink_b = {LOG_MAGIC, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};

static unsigned sink_count(log_sink *sink, const unsigned *field) {
    unsigned v;
    pthread_mutex_lock(&sink->lock);
    v = *field;
    pthread_mutex_unlock(&sink->lock);
    return v;
}

/* ---------------------------------------------------------------------------------------- */
/* Progress callbacks. */

typedef struct {
    uint32_t calls;
    uint32_t last_step;
    uint32_t total;
    uint32_t cancel_at; /* return 0 at this step; 0 = never */
    int out_of_order;
} progress_log;

static int32_t on_progress(void *user_data, uint32_t step, uint32_t total_steps) {
    progress_log *p = (progress_log *)user_data;
    if (step != p->last_step + 1 || (p->total != 0 && total_steps != p->total) ||
        step > total_steps) {
        p->out_of_order = 1;
    }
    p->calls++;
    p->last_step = step;
    p->total = total_steps;
    return (p->cancel_at != 0 && step >= p->cancel_at) ? 0 : 1;
}

/* A generate on another thread that signals once its first step is done. With
 * `hold_for_cancel`, its first step's callback then waits until the main thread says it has
 * called sdrt_pipeline_cancel (`cancel_sent`): the cancel lands during the call whatever the
 * scheduler does (under valgrind, which runs one thread at a time, the worker could otherwise
 * finish all its steps before the main thread ran again). */
typedef struct {
    sdrt_pipeline *pipeline;
    uint32_t steps;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int started;
    int hold_for_cancel;
    int cancel_sent;
    uint32_t last_step;
    sdrt_status status;
    char message[512];
    sdrt_images *images;
} worker;

static int32_t worker_progress(void *user_data, uint32_t step, uint32_t total_steps) {
    worker *w = (worker *)user_data;
    (void)total_steps;
    pthread_mutex_lock(&w->lock);
    w->last_step = step;
    if (!w->started) {
        w->started = 1;
        pthread_cond_broadcast(&w->cond);
    }
    while (w->hold_for_cancel && !w->cancel_sent) {
        pthread_cond_wait(&w->cond, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return 1;
}

static void *worker_main(void *arg) {
    worker *w = (worker *)arg;
    sdrt_generate_params gp;
    sdrt_generate_params_init(&gp);
    gp.prompt = "a very long generation";
    gp.steps = w->steps;
    gp.progress = worker_progress;
    gp.progress_user_data = w;
    w->images = NULL;
    w->status = sdrt_pipeline_generate(w->pipeline, &gp, &w->images);
    /* The message is thread-local: read it on this thread. */
    snprintf(w->message, sizeof w->message, "%s",
             w->status == SDRT_OK ? "" : sdrt_last_error_message());
    pthread_mutex_lock(&w->lock);
    if (!w->started) { /* failed before the first step: wake the waiter anyway */
        w->started = 1;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void worker_init(worker *w, sdrt_pipeline *pipeline, uint32_t steps) {
    memset(w, 0, sizeof *w);
    w->pipeline = pipeline;
    w->steps = steps;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

static void worker_wait_started(worker *w) {
    pthread_mutex_lock(&w->lock);
    while (!w->started) {
        pthread_cond_wait(&w->cond, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
}

static void worker_destroy(worker *w) {
    sdrt_images_free(w->images);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
}

/* ---------------------------------------------------------------------------------------- */

static void base_params(sdrt_generate_params *gp) {
    sdrt_generate_params_init(gp);
    gp->prompt = "a red cube";
    gp->steps = 2;
}

/* Sentinels: out-parameters must keep them when a call fails. */
static int pipeline_sentinel_storage;
static int images_sentinel_storage;
#define PIPELINE_SENTINEL ((sdrt_pipeline *)(void *)&pipeline_sentinel_storage)
#define IMAGES_SENTINEL ((sdrt_images *)(void *)&images_sentinel_storage)

static const char INVALID_UTF8[] = {'a', (char)0xC3, (char)0x28, 'b', '\0'};

static void check_versions_and_names(void) {
    static const char *const names[] = {
        "SDRT_OK",
        "SDRT_ERROR_INVALID_ARGUMENT",
        "SDRT_ERROR_RUNTIME_UNAVAILABLE",
        "SDRT_ERROR_ALREADY_INITIALIZED",
        "SDRT_ERROR_MODEL_NOT_FOUND",
        "SDRT_ERROR_MODEL_INVALID",
        "SDRT_ERROR_PROVIDER_UNAVAILABLE",
        "SDRT_ERROR_INFERENCE",
        "SDRT_ERROR_CANCELLED",
        "SDRT_ERROR_UNSUPPORTED",
        "SDRT_ERROR_IO",
        "SDRT_ERROR_INTERNAL",
    };
    static const sdrt_status codes[] = {
        SDRT_OK,
        SDRT_ERROR_INVALID_ARGUMENT,
        SDRT_ERROR_RUNTIME_UNAVAILABLE,
        SDRT_ERROR_ALREADY_INITIALIZED,
        SDRT_ERROR_MODEL_NOT_FOUND,
        SDRT_ERROR_MODEL_INVALID,
        SDRT_ERROR_PROVIDER_UNAVAILABLE,
        SDRT_ERROR_INFERENCE,
        SDRT_ERROR_CANCELLED,
        SDRT_ERROR_UNSUPPORTED,
        SDRT_ERROR_IO,
        SDRT_ERROR_INTERNAL,
    };
    static const uint32_t unknown[] = {12, 99, 0x7FFFFFFFu, UINT32_MAX};
    char version[64];
    size_t i;

    snprintf(version, sizeof version, "%d.%d.%d", SDRT_VERSION_MAJOR, SDRT_VERSION_MINOR,
             SDRT_VERSION_PATCH);
    CHECK(strcmp(sdrt_version(), version) == 0);
    CHECK(sdrt_abi_version() == SDRT_ABI_VERSION);

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(codes[i] == (sdrt_status)i); /* numbers are stable */
        CHECK(sdrt_status_str(codes[i]) != NULL);
        CHECK(strcmp(sdrt_status_str(codes[i]), names[i]) == 0);
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK(strcmp(sdrt_status_str(unknown[i]), "SDRT_ERROR_UNKNOWN") == 0);
    }
    /* No call has failed on this thread yet. */
    CHECK(sdrt_last_error_message() != NULL);
    CHECK(strcmp(sdrt_last_error_message(), "") == 0);
    printf("ok   versions %s (ABI %u), %u status names\n", sdrt_version(), sdrt_abi_version(),
           (unsigned)(sizeof codes / sizeof codes[0]));
}

static void check_defaults(void) {
    sdrt_runtime_options ro;
    sdrt_pipeline_options po;
    sdrt_generate_params gp;
    sdrt_pipeline_info info;
    memset(&ro, 0xAB, sizeof ro);
    memset(&po, 0xAB, sizeof po);
    memset(&gp, 0xAB, sizeof gp);
    memset(&info, 0xAB, sizeof info);
    sdrt_runtime_options_init(&ro);
    sdrt_pipeline_options_init(&po);
    sdrt_generate_params_init(&gp);
    sdrt_pipeline_info_init(&info);
    CHECK(ro.struct_size == sizeof ro);
    CHECK(ro.log_level == SDRT_LOG_WARN);
    CHECK(ro.ort_library_path == NULL && ro.log_callback == NULL && ro.log_user_data == NULL);
    CHECK(po.struct_size == sizeof po);
    CHECK(po.provider == SDRT_PROVIDER_AUTO && po.strict_provider == 0);
    CHECK(po.coreml_compute_units == SDRT_COREML_ALL && po.coreml_ml_program != 0);
    CHECK(po.coreml_static_shapes == 0 && po.cuda_device_id == 0 && po.intra_op_threads == 0);
    CHECK(po.coreml_cache_dir == NULL);
    CHECK(gp.struct_size == sizeof gp);
    CHECK(gp.width == 0 && gp.height == 0 && gp.steps == 50 && gp.count == 1);
    CHECK(gp.guidance == 7.5f && gp.seed == 0);
    CHECK(gp.scheduler == SDRT_SCHEDULER_DEFAULT && gp.generator == SDRT_GENERATOR_NUMPY);
    CHECK(gp.prompt == NULL && gp.negative_prompt == NULL);
    CHECK(gp.progress == NULL && gp.progress_user_data == NULL);
    CHECK(info.struct_size == sizeof info && info.default_scheduler_class == NULL);
    CHECK(gp.strength == 0.8f && gp.preview_every == 1 && gp.init_image.data == NULL);

    /* NULL is ignored by the plain symbols and the sized ones (the macros need a typed
     * pointer). */
    (sdrt_runtime_options_init)(NULL);
    (sdrt_pipeline_options_init)(NULL);
    (sdrt_generate_params_init)(NULL);
    (sdrt_pipeline_info_init)(NULL);
    sdrt_runtime_options_init_sized(NULL, 64);
    sdrt_pipeline_options_init_sized(NULL, 64);
    sdrt_generate_params_init_sized(NULL, 64);
    sdrt_pipeline_info_init_sized(NULL, 64);

    /* A program built against the first published header calls the plain symbols with its
     * smaller structs: nothing past the first layout may be written. */
    {
        size_t v1 = offsetof(sdrt_generate_params, timestep_spacing) + sizeof(uint32_t);
        size_t k;
        unsigned char *raw = (unsigned char *)(void *)&gp;
        memset(&gp, 0xAB, sizeof gp);
        (sdrt_generate_params_init)(&gp);
        CHECK(gp.struct_size == v1 && gp.steps == 50);
        for (k = v1; k < sizeof gp; k++) {
            CHECK(raw[k] == 0xAB);
        }
        v1 = offsetof(sdrt_pipeline_options, coreml_cache_dir) + sizeof(const char *);
        raw = (unsigned char *)(void *)&po;
        memset(&po, 0xAB, sizeof po);
        (sdrt_pipeline_options_init)(&po);
        CHECK(po.struct_size == v1 && po.coreml_ml_program == 1);
        for (k = v1; k < sizeof po; k++) {
            CHECK(raw[k] == 0xAB);
        }
        v1 = offsetof(sdrt_pipeline_info, default_scheduler_class) + sizeof(const char *);
        raw = (unsigned char *)(void *)&info;
        memset(&info, 0xAB, sizeof info);
        (sdrt_pipeline_info_init)(&info);
        CHECK(info.struct_size == v1);
        for (k = v1; k < sizeof info; k++) {
            CHECK(raw[k] == 0xAB);
        }
        /* A size in between writes exactly that much. */
        memset(&gp, 0xAB, sizeof gp);
        sdrt_generate_params_init_sized(&gp, (uint32_t)offsetof(sdrt_generate_params, mask));
        CHECK(gp.struct_size == offsetof(sdrt_generate_params, mask));
        CHECK(gp.init_image.data == NULL && raw != NULL);
        CHECK(((unsigned char *)(void *)&gp)[offsetof(sdrt_generate_params, mask)] == 0xAB);
        /* Sizes below struct_size write nothing; a bigger one writes what the library knows. */
        memset(&gp, 0xAB, sizeof gp);
        sdrt_generate_params_init_sized(&gp, 3);
        CHECK(gp.struct_size == 0xABABABABu);
        sdrt_generate_params_init_sized(&gp, 100000);
        CHECK(gp.struct_size == sizeof gp);
    }
    printf("ok   *_init defaults and struct_size\n");
}

static void check_runtime_options_errors(void) {
    sdrt_runtime_options ro;
    sdrt_runtime_options_init(&ro);
    ro.struct_size = 0;
    EXPECT(sdrt_runtime_init(&ro), SDRT_ERROR_INVALID_ARGUMENT, "struct_size");
    sdrt_runtime_options_init(&ro);
    ro.struct_size = 4;
    EXPECT(sdrt_runtime_init(&ro), SDRT_ERROR_INVALID_ARGUMENT, "struct_size");
    sdrt_runtime_options_init(&ro);
    ro.struct_size = (uint32_t)sizeof ro - 1;
    EXPECT(sdrt_runtime_init(&ro), SDRT_ERROR_INVALID_ARGUMENT, "struct_size");
    sdrt_runtime_options_init(&ro);
    ro.struct_size = (uint32_t)offsetof(sdrt_runtime_options, ort_library_path) + 4;
    EXPECT(sdrt_runtime_init(&ro), SDRT_ERROR_INVALID_ARGUMENT, "struct_size");
    sdrt_runtime_options_init(&ro);
    ro.log_level = 99;
    EXPECT(sdrt_runtime_init(&ro), SDRT_ERROR_INVALID_ARGUMENT, "log_level");
    sdrt_runtime_options_init(&ro);
    ro.ort_library_path = INVALID_UTF8;
    EXPECT(sdrt_runtime_init(&ro), SDRT_ERROR_INVALID_ARGUMENT, "UTF-8");
    /* None of these may have loaded anything. */
    CHECK(sdrt_runtime_ort_version() == NULL);
}

static void check_providers(const char *model_dir) {
    static const uint32_t providers[] = {SDRT_PROVIDER_COREML, SDRT_PROVIDER_CUDA};
    static const char *const names[] = {"coreml", "cuda"};
    size_t i;
    for (i = 0; i < 2; i++) {
        sdrt_pipeline_options po;
        sdrt_pipeline_info info;
        sdrt_pipeline *p = PIPELINE_SENTINEL;
        unsigned before = sink_count(&sink_a, &sink_a.fallbacks);

        sdrt_pipeline_options_init(&po);
        po.provider = providers[i];
        po.strict_provider = 1;
        expect_at(__LINE__, names[i], sdrt_pipeline_create(model_dir, &po, &p),
                  SDRT_ERROR_PROVIDER_UNAVAILABLE, names[i]);
        CHECK(p == PIPELINE_SENTINEL);

        po.strict_provider = 0;
        po.coreml_compute_units = SDRT_COREML_CPU_AND_NEURAL_ENGINE;
        EXPECT(sdrt_pipeline_create(model_dir, &po, &p), SDRT_OK, NULL);
        CHECK(p != PIPELINE_SENTINEL && p != NULL);
        if (p == PIPELINE_SENTINEL || p == NULL) {
            continue;
        }
        sdrt_pipeline_info_init(&info);
        EXPECT(sdrt_pipeline_get_info(p, &info), SDRT_OK, NULL);
        CHECK(info.provider == SDRT_PROVIDER_CPU);
        /* The fallback is logged, to the callback given to sdrt_runtime_init, with its
         * user_data. */
        CHECK(sink_count(&sink_a, &sink_a.fallbacks) == before + 1);
        printf("ok   non-strict %s falls back to SDRT_PROVIDER_CPU with a logged warning\n",
               names[i]);
        sdrt_pipeline_free(p);
    }
}

static void check_info(sdrt_pipeline *p) {
    sdrt_pipeline_info info;
    unsigned char big[sizeof(sdrt_pipeline_info) + 32];
    sdrt_pipeline_info *grown = (sdrt_pipeline_info *)(void *)big;
    size_t i;

    sdrt_pipeline_info_init(&info);
    EXPECT(sdrt_pipeline_get_info(p, &info), SDRT_OK, NULL);
    CHECK(info.struct_size == sizeof info);
    CHECK(info.native_width == 64 && info.native_height == 64);
    CHECK(info.prediction_type == SDRT_PREDICTION_EPSILON);
    CHECK(info.default_scheduler == SDRT_SCHEDULER_PNDM);
    CHECK(info.provider == SDRT_PROVIDER_CPU);
    CHECK(info.default_scheduler_class != NULL &&
          strcmp(info.default_scheduler_class, "PNDMScheduler") == 0);

    /* A caller compiled against the first layout gets just that much. */
    sdrt_pipeline_info_init(&info);
    info.struct_size = (uint32_t)(offsetof(sdrt_pipeline_info, default_scheduler_class) +
                                  sizeof(const char *));
    info.safety_checker = 77;
    EXPECT(sdrt_pipeline_get_info(p, &info), SDRT_OK, NULL);
    CHECK(info.native_width == 64 && info.safety_checker == 77);
    sdrt_pipeline_info_init(&info);
    EXPECT(sdrt_pipeline_get_info(p, &info), SDRT_OK, NULL);
    CHECK(info.safety_checker == 0 && info.unet_in_channels == 4 && info.timestep_cond_dim == 0);

    /* A caller compiled against a newer header passes a bigger struct: the library fills
     * what it knows, keeps struct_size, and leaves the rest alone. */
    memset(big, 0xEE, sizeof big);
    sdrt_pipeline_info_init(grown);
    grown->struct_size = (uint32_t)sizeof big;
    EXPECT(sdrt_pipeline_get_info(p, grown), SDRT_OK, NULL);
    CHECK(grown->struct_size == sizeof big);
    CHECK(grown->native_width == 64 && grown->provider == SDRT_PROVIDER_CPU);
    for (i = sizeof(sdrt_pipeline_info); i < sizeof big; i++) {
        CHECK(big[i] == 0xEE);
    }
}


static void check_built(sdrt_pipeline *p, const sdrt_generate_params *gp,
                                   const char *what, uint32_t number) {
    sdrt_images *out = IMAGES_SENTINEL;
    sdrt_status st = sdrt_pipeline_generate(p, gp, &out);
    checks++;
    if (st == SDRT_OK) {
        CHECK(out != IMAGES_SENTINEL && sdrt_images_count(out) == 1);
        printf("ok   %-26s %s %u is built\n", sdrt_status_str(st), what, number);
        if (out != IMAGES_SENTINEL) {
            sdrt_images_free(out);
        }
    } else {
        failures++;
        fprintf(stderr, "FAIL %s %u: %s (%s), expected SDRT_OK: every one is built\n", what,
                number, sdrt_status_str(st), sdrt_last_error_message());
    }
}

/* Every scheduler and generator number is built. (The invalid values of every field are rows
 * of tests/c/hostile.c.) */
static void check_every_scheduler_is_built(sdrt_pipeline *p) {
    sdrt_generate_params gp;
    uint32_t s;


    /* Every scheduler and generator number is built: images come back. */
    for (s = SDRT_SCHEDULER_PNDM; s <= SDRT_SCHEDULER_DDPM; s++) {
        if (quick && s != SDRT_SCHEDULER_DDIM) {
            continue;
        }
        base_params(&gp);
        gp.steps = 1;
        gp.scheduler = s;
        check_built(p, &gp, "scheduler", s);
    }
    base_params(&gp);
    gp.steps = 1;
    gp.generator = SDRT_GENERATOR_TORCH;
    check_built(p, &gp, "generator", SDRT_GENERATOR_TORCH);
}

/* Init images, masks, strength, rescale and previews: every bad value is
 * SDRT_ERROR_INVALID_ARGUMENT with a message naming the field, before any graph runs. */
/* Image-to-image and inpainting behaviour (the invalid init images, masks, strengths and
 * previews are rows of tests/c/hostile.c). */
static void check_edit_errors(sdrt_pipeline *p, const char *model_dir) {
    static uint8_t rgb[64 * 64 * 4];
    static uint8_t gray[64 * 64];
    sdrt_generate_params gp;
    sdrt_images *out = IMAGES_SENTINEL;
    sdrt_pipeline *other = NULL;
    char path[4096];

    /* The same image as packed RGB8 and as padded RGBA8 gives the same result. */
    {
        static uint8_t padded[64 * (64 * 4 + 12)];
        sdrt_images *a = NULL, *b = NULL;
        uint32_t x, y;
        for (y = 0; y < 64; y++) {
            for (x = 0; x < 64; x++) {
                uint8_t *px = rgb + (y * 64 + x) * 3;
                px[0] = (uint8_t)(4 * x);
                px[1] = (uint8_t)(4 * y);
                px[2] = (uint8_t)(x ^ y);
                memcpy(padded + y * (64 * 4 + 12) + x * 4, px, 3);
                padded[y * (64 * 4 + 12) + x * 4 + 3] = 7;
            }
        }
        base_params(&gp);
        gp.init_image.data = rgb;
        gp.init_image.width = 64;
        gp.init_image.height = 64;
        gp.strength = 0.5f;
        gp.steps = 4;
        EXPECT(sdrt_pipeline_generate(p, &gp, &a), SDRT_OK, "");
        gp.init_image.data = padded;
        gp.init_image.stride = 64 * 4 + 12;
        gp.init_image.format = SDRT_PIXEL_FORMAT_RGBA8;
        EXPECT(sdrt_pipeline_generate(p, &gp, &b), SDRT_OK, "");
        CHECK(a != NULL && b != NULL &&
              memcmp(sdrt_images_data(a, 0), sdrt_images_data(b, 0), 64 * 64 * 3) == 0);
        sdrt_images_free(a);
        sdrt_images_free(b);
    }

    /* A model that cannot inpaint (LCM-distilled) refuses a mask; an inpainting model
     * refuses a call without one. */
    snprintf(path, sizeof path, "%s/../tiny-lcm", model_dir);
    EXPECT(sdrt_pipeline_create(path, NULL, &other), SDRT_OK, "");
    if (other != NULL) {
        base_params(&gp);
        gp.init_image.data = rgb;
        gp.init_image.width = 64;
        gp.init_image.height = 64;
        gp.mask.data = gray;
        gp.mask.width = 64;
        gp.mask.height = 64;
        EXPECT(sdrt_pipeline_generate(other, &gp, &out), SDRT_ERROR_INVALID_ARGUMENT,
               "cannot inpaint");
        sdrt_pipeline_free(other);
        other = NULL;
    }
    snprintf(path, sizeof path, "%s/../tiny-sd2-inpaint", model_dir);
    EXPECT(sdrt_pipeline_create(path, NULL, &other), SDRT_OK, "");
    if (other != NULL) {
        base_params(&gp);
        EXPECT(sdrt_pipeline_generate(other, &gp, &out), SDRT_ERROR_INVALID_ARGUMENT, "mask");
        gp.init_image.data = rgb;
        gp.init_image.width = 64;
        gp.init_image.height = 64;
        EXPECT(sdrt_pipeline_generate(other, &gp, &out), SDRT_ERROR_INVALID_ARGUMENT, "mask");
        CHECK(out == IMAGES_SENTINEL);
        sdrt_pipeline_free(other);
    }
}

/* SD 1.x folders with a safety checker: flagged images are black and reported. The case is
 * the first of tests/goldens/safety.json (flagged). */
static void check_safety_checker(const char *model_dir) {
    sdrt_pipeline *p = NULL;
    sdrt_pipeline_options po;
    sdrt_pipeline_info info;
    sdrt_generate_params gp;
    sdrt_images *out = NULL;
    char path[4096];
    const uint8_t *px;
    uint32_t i, nonzero = 0;

    snprintf(path, sizeof path, "%s/../tiny-sd1-safety", model_dir);
    EXPECT(sdrt_pipeline_create(path, NULL, &p), SDRT_OK, NULL);
    if (p == NULL) {
        return;
    }
    sdrt_pipeline_info_init(&info);
    EXPECT(sdrt_pipeline_get_info(p, &info), SDRT_OK, NULL);
    CHECK(info.safety_checker == 1);
    sdrt_generate_params_init(&gp);
    gp.prompt = "a photo of an astronaut riding a horse on mars";
    gp.steps = 10;
    gp.seed = 42;
    EXPECT(sdrt_pipeline_generate(p, &gp, &out), SDRT_OK, NULL);
    CHECK(sdrt_images_safety_checked(out) == 1);
    CHECK(sdrt_images_flagged(out, 0) == 1);
    CHECK(sdrt_images_flagged(out, 1) == 0); /* out of range */
    px = sdrt_images_data(out, 0);
    for (i = 0; px != NULL && i < 64 * 64 * 3; i++) {
        nonzero += px[i] != 0;
    }
    CHECK(px != NULL && nonzero == 0);
    sdrt_images_free(out);
    sdrt_pipeline_free(p);
    CHECK(sdrt_images_flagged(NULL, 0) == 0 && sdrt_images_safety_checked(NULL) == 0);

    sdrt_pipeline_options_init(&po);
    po.disable_safety_checker = 1;
    p = NULL;
    EXPECT(sdrt_pipeline_create(path, &po, &p), SDRT_OK, NULL);
    if (p == NULL) {
        return;
    }
    out = NULL;
    EXPECT(sdrt_pipeline_generate(p, &gp, &out), SDRT_OK, NULL);
    CHECK(sdrt_images_safety_checked(out) == 0 && sdrt_images_flagged(out, 0) == 0);
    sdrt_images_free(out);
    sdrt_pipeline_free(p);
}

static void check_generate_ok(sdrt_pipeline *p) {
    sdrt_generate_params gp;
    sdrt_images *out = NULL;
    progress_log progress;
    unsigned char big[sizeof(sdrt_generate_params) + 16];
    sdrt_generate_params *grown = (sdrt_generate_params *)(void *)big;
    unsigned truncations = sink_count(&sink_a, &sink_a.truncations);
    char long_prompt[2048];
    size_t i;

    base_params(&gp);
    gp.count = 2;
    gp.width = quick ? 64 : 96;
    gp.steps = quick ? 1 : 2;
    memset(&progress, 0, sizeof progress);
    gp.progress = on_progress;
    gp.progress_user_data = &progress;
    EXPECT(sdrt_pipeline_generate(p, &gp, &out), SDRT_OK, NULL);
    CHECK(out != NULL);
    CHECK(sdrt_images_count(out) == 2);
    CHECK(sdrt_images_width(out) == gp.width && sdrt_images_height(out) == 64);
    CHECK(sdrt_images_channels(out) == 3);
    CHECK(sdrt_images_data(out, 0) != NULL && sdrt_images_data(out, 1) != NULL);
    CHECK(sdrt_images_data(out, 0) != sdrt_images_data(out, 1));
    CHECK(sdrt_images_data(out, 2) == NULL);
    CHECK(sdrt_images_data(out, UINT32_MAX) == NULL);
    /* PNDM evaluates the UNet steps + 1 times; the callback sees each in order. */
    /* Each UNet evaluation reports once, in order (PNDM evaluates steps + 1 times). */
    CHECK(progress.calls == progress.total && progress.last_step == progress.total);
    CHECK(progress.total >= gp.steps && progress.total <= gp.steps + 1);
    CHECK(!progress.out_of_order);
    sdrt_images_free(out);
    if (quick) {
        return;
    }

    /* A caller compiled against a newer header: a bigger struct is accepted. */
    memset(big, 0x5A, sizeof big);
    base_params(grown);
    grown->struct_size = (uint32_t)sizeof big;
    out = NULL;
    EXPECT(sdrt_pipeline_generate(p, grown, &out), SDRT_OK, NULL);
    CHECK(sdrt_images_count(out) == 1);
    sdrt_images_free(out);

    /* An over-long prompt is truncated with a logged warning. */
    long_prompt[0] = '\0';
    for (i = 0; i < 40; i++) {
        strcat(long_prompt, "a castle on a hill, ");
    }
    base_params(&gp);
    gp.steps = 1;
    gp.prompt = long_prompt;
    out = NULL;
    EXPECT(sdrt_pipeline_generate(p, &gp, &out), SDRT_OK, NULL);
    CHECK(sink_count(&sink_a, &sink_a.truncations) == truncations + 1);
    sdrt_images_free(out);
}

static void check_progress_cancel(sdrt_pipeline *p) {
    sdrt_generate_params gp;
    sdrt_images *out = IMAGES_SENTINEL;
    progress_log progress;

    base_params(&gp);
    gp.steps = 20;
    memset(&progress, 0, sizeof progress);
    progress.cancel_at = 2;
    gp.progress = on_progress;
    gp.progress_user_data = &progress;
    EXPECT(sdrt_pipeline_generate(p, &gp, &out), SDRT_ERROR_CANCELLED, "cancel");
    CHECK(out == IMAGES_SENTINEL);
    CHECK(progress.calls == 2 && progress.last_step == 2 && progress.total == 21);
    if (quick) {
        return;
    }

    /* The pipeline is usable afterwards. */
    base_params(&gp);
    out = NULL;
    EXPECT(sdrt_pipeline_generate(p, &gp, &out), SDRT_OK, NULL);
    sdrt_images_free(out);
}

static void check_cancel_from_thread(sdrt_pipeline *p) {
    worker w;
    pthread_t thread;
    sdrt_generate_params gp;
    sdrt_images *out = NULL;
    const char *main_message;

    /* Give this thread a known last error: the worker's failure must not replace it. */
    base_params(&gp);
    gp.steps = 0;
    EXPECT(sdrt_pipeline_generate(p, &gp, &out), SDRT_ERROR_INVALID_ARGUMENT, "steps");

    worker_init(&w, p, 500);
    w.hold_for_cancel = 1;
    CHECK(pthread_create(&thread, NULL, worker_main, &w) == 0);
    worker_wait_started(&w);
    sdrt_pipeline_cancel(p);
    pthread_mutex_lock(&w.lock);
    w.cancel_sent = 1;
    pthread_cond_broadcast(&w.cond);
    pthread_mutex_unlock(&w.lock);
    pthread_join(thread, NULL);
    CHECK(w.status == SDRT_ERROR_CANCELLED);
    CHECK(w.message[0] != '\0' && strstr(w.message, "cancel") != NULL);
    CHECK(w.images == NULL);
    CHECK(w.last_step >= 1 && w.last_step < 501); /* stopped early */
    printf("ok   %-26s sdrt_pipeline_cancel from another thread, after step %u of 501: %s\n",
           sdrt_status_str(w.status), w.last_step, w.message);
    main_message = sdrt_last_error_message();
    CHECK(strstr(main_message, "steps") != NULL); /* thread-local */
    worker_destroy(&w);
    if (quick) {
        return;
    }

    /* A cancel affects only calls already running or waiting: later calls are fine. */
    sdrt_pipeline_cancel(p);
    base_params(&gp);
    out = NULL;
    EXPECT(sdrt_pipeline_generate(p, &gp, &out), SDRT_OK, NULL);
    sdrt_images_free(out);
}

static void check_concurrent_generates(sdrt_pipeline *p) {
    worker a;
    worker b;
    pthread_t ta;
    pthread_t tb;
    size_t size;

    worker_init(&a, p, 3);
    worker_init(&b, p, 3);
    CHECK(pthread_create(&ta, NULL, worker_main, &a) == 0);
    CHECK(pthread_create(&tb, NULL, worker_main, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.status == SDRT_OK && b.status == SDRT_OK);
    printf("ok   %-26s two threads generating on one pipeline\n", sdrt_status_str(b.status));
    if (a.status == SDRT_OK && b.status == SDRT_OK) {
        size = (size_t)sdrt_images_width(a.images) * sdrt_images_height(a.images) * 3u;
        CHECK(memcmp(sdrt_images_data(a.images, 0), sdrt_images_data(b.images, 0), size) == 0);
    }
    worker_destroy(&a);
    worker_destroy(&b);
}

static int run_suite(const char *model_dir, const char *ort_library) {
    sdrt_runtime_options ro;
    sdrt_pipeline *p = NULL;
    sdrt_images *kept = NULL;
    sdrt_generate_params gp;
    const char *ort_version;

    check_versions_and_names();
    check_defaults();
    check_runtime_options_errors();

    /* Load the runtime with a log callback; its user_data must come back unchanged. */
    sdrt_runtime_options_init(&ro);
    ro.ort_library_path = ort_library;
    ro.log_level = SDRT_LOG_WARN;
    ro.log_callback = on_log;
    ro.log_user_data = &sink_a;
    EXPECT(sdrt_runtime_init(&ro), SDRT_OK, NULL);
    ort_version = sdrt_runtime_ort_version();
    CHECK(ort_version != NULL && strncmp(ort_version, "1.", 2) == 0);
    printf("ok   ONNX Runtime %s\n", ort_version != NULL ? ort_version : "(null)");
    /* Again with the same library: fine. */
    EXPECT(sdrt_runtime_init(&ro), SDRT_OK, NULL);
    /* A different library once loaded: refused, and the logging settings stay as they were. */
    sdrt_runtime_options_init(&ro);
    ro.ort_library_path = "/nonexistent/libonnxruntime.so";
    ro.log_callback = on_log;
    ro.log_user_data = &sink_b;
    EXPECT(sdrt_runtime_init(&ro), SDRT_ERROR_ALREADY_INITIALIZED, "already");

    if (no_model) {
        sdrt_generate_params_init(&gp);
        EXPECT(sdrt_pipeline_generate(NULL, &gp, &kept), SDRT_ERROR_INVALID_ARGUMENT, "pipeline");
        CHECK(kept == NULL);
        EXPECT(sdrt_pipeline_get_info(NULL, NULL), SDRT_ERROR_INVALID_ARGUMENT, "pipeline");
        EXPECT(sdrt_runtime_init(NULL), SDRT_OK, NULL);
        return 0;
    }
    if (!quick) {
        check_providers(model_dir);
    }
    CHECK(sink_count(&sink_b, &sink_b.calls) == 0);
    CHECK(sink_count(&sink_a, &sink_a.bad_level) == 0);

    EXPECT(sdrt_pipeline_create(model_dir, NULL, &p), SDRT_OK, NULL);
    if (p == NULL) {
        fprintf(stderr, "FAIL cannot load %s; stopping\n", model_dir);
        return 1;
    }
    check_info(p);
    check_every_scheduler_is_built(p);
    if (!quick) {
        check_edit_errors(p, model_dir);
        check_safety_checker(model_dir);
    }
    check_generate_ok(p);
    check_progress_cancel(p);
    check_cancel_from_thread(p);
    if (!quick) {
        check_concurrent_generates(p);
    }

    /* Images outlive their pipeline. */
    base_params(&gp);
    gp.steps = 1;
    EXPECT(sdrt_pipeline_generate(p, &gp, &kept), SDRT_OK, NULL);
    sdrt_pipeline_free(p);
    CHECK(sdrt_images_count(kept) == 1 && sdrt_images_data(kept, 0) != NULL);
    if (sdrt_images_data(kept, 0) != NULL) {
        const uint8_t *px = sdrt_images_data(kept, 0);
        unsigned sum = 0;
        size_t i;
        for (i = 0; i < 64u * 64u * 3u; i++) {
            sum += px[i];
        }
        CHECK(sum > 0);
    }
    sdrt_images_free(kept);

    /* Options NULL once loaded: defaults (no callback); not an error. */
    EXPECT(sdrt_runtime_init(NULL), SDRT_OK, NULL);
    CHECK(sink_count(&sink_a, &sink_a.bad_level) == 0);
    printf("log callback: %u messages, %u fallback warnings\n",
           sink_count(&sink_a, &sink_a.calls), sink_count(&sink_a, &sink_a.fallbacks));
    return 0;
}

/* A fresh process where nothing points at a real ONNX Runtime. */
static int run_runtime_unavailable(const char *bogus, const char *model_dir) {
    sdrt_runtime_options ro;
    sdrt_pipeline *p = PIPELINE_SENTINEL;
    sdrt_runtime_options_init(&ro);
    ro.ort_library_path = bogus;
    ro.log_callback = on_log;
    ro.log_user_data = &sink_a;
    EXPECT(sdrt_runtime_init(&ro), SDRT_ERROR_RUNTIME_UNAVAILABLE, bogus);
    printf("MESSAGE %s\n", sdrt_last_error_message());
    CHECK(sdrt_runtime_ort_version() == NULL);
    /* sdrt_pipeline_create's default initialization fails the same way. */
    EXPECT(sdrt_pipeline_create(model_dir, NULL, &p), SDRT_ERROR_RUNTIME_UNAVAILABLE,
           "system library search");
    CHECK(p == PIPELINE_SENTINEL);
    printf("MESSAGE %s\n", sdrt_last_error_message());
    CHECK(sdrt_runtime_ort_version() == NULL);
    return 0;
}

int main(int argc, char **argv) {
    int rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "--runtime-unavailable") == 0) {
        rc = run_runtime_unavailable(argv[2], argv[3]);
    } else if (argc == 4 && strcmp(argv[1], "--quick") == 0) {
        quick = 1;
        rc = run_suite(argv[2], argv[3]);
    } else if (argc == 4 && strcmp(argv[1], "--no-model") == 0) {
        quick = 1;
        no_model = 1;
        rc = run_suite(argv[2], argv[3]);
    } else if (argc == 3) {
        rc = run_suite(argv[1], argv[2]);
    } else {
        fprintf(stderr, "usage: api_errors [--quick | --no-model] MODEL_DIR ORT_LIBRARY\n"
                        "       api_errors --runtime-unavailable BOGUS_LIBRARY MODEL_DIR\n");
        return 2;
    }
    printf("%d checks, %d failed\n", checks, failures);
    return (rc != 0 || failures != 0) ? 1 : 0;
}
