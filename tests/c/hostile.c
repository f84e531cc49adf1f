/*
 * Hostile calls of the sdrt C API, as tables: every row is one call with one hostile value and
 * the status the header documents for it, plus a word the message must contain (the field's
 * name), or the value a non-failing function must return. Failing calls must leave their
 * out-parameter alone. Built and run by tests/hostile.rs.
 *
 *   hostile MODEL_DIR ORT_LIBRARY
 *
 * This file is where new fields get their rows (the SDXL rows that need an SDXL model are in
 * tests/c/hostile_sdxl.c): a new field of sdrt_generate_params goes in
 * GENERATE_CASES, of sdrt_pipeline_options in OPTIONS_CASES, of sdrt_runtime_options in
 * RUNTIME_CASES, of sdrt_pipeline_info in INFO_CASES; a new function gets a row per pointer
 * argument in CALL_CASES (status-returning) or VALUE_CASES (the rest). tests/c/api_errors.c
 * keeps the behaviour checks (defaults, fallbacks, cancellation, threads, schedulers).
 *
 * Prints one line per row and "N hostile cases, M failed"; exits 0 when none failed.
 */

#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdrt.h"
#include "hostile_check.h"

static const char *model_dir;
static const char *ort_library;
static sdrt_pipeline *pipe_ = NULL;    /* tiny-sd2, for the generate and info rows */
static sdrt_images *images2 = NULL;   /* two 64x64 images, for the accessor rows */

static char *big_prompt;    /* 5 MB of words */
static char *big_word;      /* 5 MB without a space */
static char *big_spaces;    /* 5 MB of whitespace */

static uint8_t rgb[64 * 64 * 4];
static uint8_t gray[64 * 64];
static uint8_t rgb72[72 * 64 * 3];

static int pipeline_sentinel_storage;
static int images_sentinel_storage;
#define PIPELINE_SENTINEL ((sdrt_pipeline *)(void *)&pipeline_sentinel_storage)
#define IMAGES_SENTINEL ((sdrt_images *)(void *)&images_sentinel_storage)

/* ---------------------------------------------------------------------------------------- */
/* Helpers the rows use. */

static void set_init(sdrt_generate_params *gp) {
    gp->init_image.data = rgb;
    gp->init_image.width = 64;
    gp->init_image.height = 64;
    gp->init_image.stride = 0;
    gp->init_image.format = SDRT_PIXEL_FORMAT_RGB8;
    gp->strength = 0.5f;
    gp->steps = 2;
}

static void set_mask(sdrt_generate_params *gp) {
    set_init(gp);
    gp->mask.data = gray;
    gp->mask.width = 64;
    gp->mask.height = 64;
    gp->mask.format = SDRT_PIXEL_FORMAT_GRAY8;
}

/* A params struct from a caller compiled against a newer header: bigger, the extra bytes
 * garbage. The library must accept it and ignore the extra. */
static unsigned char grown_params[sizeof(sdrt_generate_params) + 64];
static sdrt_generate_params *grown(sdrt_generate_params *gp) {
    memset(grown_params, 0xA5, sizeof grown_params);
    memcpy(grown_params, gp, sizeof *gp);
    ((sdrt_generate_params *)(void *)grown_params)->struct_size = (uint32_t)sizeof grown_params;
    return (sdrt_generate_params *)(void *)grown_params;
}

/* Latents lent through params->latents (hostile_check.h), halfway into 4 steps. */
static void set_latents(sdrt_generate_params *gp, const char *family, uint32_t count,
                        uint32_t channels) {
    lend_latents(gp, family, count, channels);
    gp->denoising_start = 0.5f;
    gp->steps = 4;
}

static int32_t stop_now(void *user_data, uint32_t step, uint32_t total) {
    (void)user_data;
    (void)step;
    (void)total;
    return 0;
}

static int32_t stop_step(void *user_data, const sdrt_step_info *info) {
    (void)user_data;
    (void)info;
    return 0;
}

/* A progress callback that calls generate on its own pipeline: refused, not a deadlock. */
static sdrt_status reentrant_status = SDRT_OK;
static char reentrant_message[512];
static int32_t reenter(void *user_data, uint32_t step, uint32_t total) {
    sdrt_generate_params inner;
    sdrt_images *out = IMAGES_SENTINEL;
    (void)user_data;
    (void)total;
    if (step == 1) {
        sdrt_generate_params_init(&inner);
        inner.steps = 1;
        reentrant_status = sdrt_pipeline_generate(pipe_, &inner, &out);
        snprintf(reentrant_message, sizeof reentrant_message, "%s",
                 reentrant_status == SDRT_OK ? "" : sdrt_last_error_message());
        if (out != IMAGES_SENTINEL) {
            sdrt_images_free(out);
        }
    }
    return 1;
}

static const char INVALID_UTF8[] = {'a', (char)0xC3, (char)0x28, 'b', '\0'};
static const char LONE_CONTINUATION[] = {(char)0x80, '\0'};
static const char OVERLONG[] = {(char)0xC0, (char)0xAF, '\0'};
static const char SURROGATE[] = {(char)0xED, (char)0xA0, (char)0x80, '\0'};
static const char TRUNCATED[] = {'x', (char)0xE2, (char)0x82, '\0'};

/* ---------------------------------------------------------------------------------------- */
/* sdrt_pipeline_generate: one row per hostile value of each field of sdrt_generate_params.
 * Base: sdrt_generate_params_init, prompt "a red cube", steps 1, the model's native 64x64.
 * X(id, description, statement on `gp` (may point gp elsewhere), status, message word). */

#define GENERATE_CASES(X)                                                                      \
    X(g_struct0, "struct_size 0", gp->struct_size = 0, SDRT_ERROR_INVALID_ARGUMENT,            \
      "struct_size")                                                                           \
    X(g_struct4, "struct_size 4", gp->struct_size = 4, SDRT_ERROR_INVALID_ARGUMENT,            \
      "struct_size")                                                                           \
    X(g_struct_v1_short, "struct_size one field short of the first layout",                    \
      gp->struct_size = (uint32_t)offsetof(sdrt_generate_params, timestep_spacing),            \
      SDRT_ERROR_INVALID_ARGUMENT, "struct_size")                                              \
    X(g_struct_v1, "struct_size of the first layout (0.1)",                                    \
      gp->struct_size = (uint32_t)(offsetof(sdrt_generate_params, timestep_spacing) + 4),      \
      SDRT_OK, NULL)                                                                           \
    X(g_struct_grown, "struct_size 64 bytes larger, garbage beyond", gp = grown(gp), SDRT_OK,  \
      NULL)                                                                                    \
    X(g_struct_max, "struct_size UINT32_MAX (only the known fields are read)",                 \
      gp->struct_size = UINT32_MAX, SDRT_OK, NULL)                                             \
    X(g_prompt_null, "prompt NULL (\"\")", gp->prompt = NULL, SDRT_OK, NULL)                   \
    X(g_prompt_empty, "prompt \"\"", gp->prompt = "", SDRT_OK, NULL)                           \
    X(g_prompt_5mb, "prompt of 5 MB of words", gp->prompt = big_prompt, SDRT_OK, NULL)         \
    X(g_prompt_5mb_word, "prompt of 5 MB without a space", gp->prompt = big_word, SDRT_OK,     \
      NULL)                                                                                    \
    X(g_prompt_5mb_spaces, "prompt of 5 MB of whitespace", gp->prompt = big_spaces, SDRT_OK,   \
      NULL)                                                                                    \
    X(g_prompt_utf8, "prompt not UTF-8 (0xC3 0x28)", gp->prompt = INVALID_UTF8,                \
      SDRT_ERROR_INVALID_ARGUMENT, "params->prompt")                                           \
    X(g_prompt_cont, "prompt a lone continuation byte", gp->prompt = LONE_CONTINUATION,        \
      SDRT_ERROR_INVALID_ARGUMENT, "params->prompt")                                           \
    X(g_prompt_overlong, "prompt an overlong encoding", gp->prompt = OVERLONG,                 \
      SDRT_ERROR_INVALID_ARGUMENT, "params->prompt")                                           \
    X(g_prompt_surrogate, "prompt an encoded surrogate", gp->prompt = SURROGATE,               \
      SDRT_ERROR_INVALID_ARGUMENT, "params->prompt")                                           \
    X(g_prompt_truncated, "prompt a truncated sequence", gp->prompt = TRUNCATED,               \
      SDRT_ERROR_INVALID_ARGUMENT, "params->prompt")                                           \
    X(g_negative_utf8, "negative_prompt not UTF-8", gp->negative_prompt = INVALID_UTF8,        \
      SDRT_ERROR_INVALID_ARGUMENT, "params->negative_prompt")                                  \
    X(g_negative_5mb, "negative_prompt of 5 MB", gp->negative_prompt = big_prompt, SDRT_OK,    \
      NULL)                                                                                    \
    X(g_width0, "width 0 (native)", gp->width = 0, SDRT_OK, NULL)                              \
    X(g_width65, "width 65 (not a multiple of 8)", gp->width = 65, SDRT_ERROR_INVALID_ARGUMENT, \
      "width 65")                                                                              \
    X(g_width72, "width 72 (not runnable: the UNet needs multiples of 32)", gp->width = 72,    \
      SDRT_ERROR_INVALID_ARGUMENT, "64 or 96")                                                 \
    X(g_width8, "width 8 (not runnable)", gp->width = 8, SDRT_ERROR_INVALID_ARGUMENT,          \
      "width 8")                                                                               \
    X(g_width_million, "width 1000000", gp->width = 1000000, SDRT_ERROR_INVALID_ARGUMENT,      \
      "width 1000000")                                                                         \
    X(g_width_max, "width UINT32_MAX", gp->width = UINT32_MAX, SDRT_ERROR_INVALID_ARGUMENT,    \
      "width")                                                                                 \
    X(g_height0, "height 0 (native)", gp->height = 0, SDRT_OK, NULL)                           \
    X(g_height100, "height 100 (not a multiple of 8)", gp->height = 100,                       \
      SDRT_ERROR_INVALID_ARGUMENT, "height 100")                                               \
    X(g_height40, "height 40 (not runnable)", gp->height = 40, SDRT_ERROR_INVALID_ARGUMENT,    \
      "height 40")                                                                             \
    X(g_height_million, "height 1000000", gp->height = 1000000, SDRT_ERROR_INVALID_ARGUMENT,   \
      "height 1000000")                                                                        \
    X(g_size_4096, "4096x4096 (an estimated 1 TiB)",                                           \
      (gp->width = 4096, gp->height = 4096), SDRT_ERROR_INVALID_ARGUMENT, "1.0 TiB")          \
    X(g_memory_limit_1, "memory_limit 1 byte", gp->memory_limit = 1,                           \
      SDRT_ERROR_INVALID_ARGUMENT, "memory_limit")                                             \
    X(g_memory_limit_max, "memory_limit UINT64_MAX (no limit) at 64x64",                       \
      gp->memory_limit = UINT64_MAX, SDRT_OK, NULL)                                            \
    X(g_steps0, "steps 0", gp->steps = 0, SDRT_ERROR_INVALID_ARGUMENT, "steps")                \
    X(g_steps_1001, "steps 1001", gp->steps = 1001, SDRT_ERROR_INVALID_ARGUMENT, "steps")      \
    X(g_steps_100k, "steps 100000", gp->steps = 100000, SDRT_ERROR_INVALID_ARGUMENT, "steps")  \
    X(g_steps_max, "steps UINT32_MAX", gp->steps = UINT32_MAX, SDRT_ERROR_INVALID_ARGUMENT,    \
      "steps")                                                                                 \
    X(g_steps_1000_pndm, "steps 1000 with PNDM (leading, steps_offset 1)", gp->steps = 1000,   \
      SDRT_ERROR_INVALID_ARGUMENT, "steps 1000 is refused by pndm")                            \
    X(g_steps_1000_ddim, "steps 1000 with DDIM",                                               \
      (gp->steps = 1000, gp->scheduler = SDRT_SCHEDULER_DDIM), SDRT_ERROR_INVALID_ARGUMENT,    \
      "nearest accepted: 999")                                                                 \
    X(g_steps_lcm, "steps 51 with LCM", (gp->steps = 51, gp->scheduler = SDRT_SCHEDULER_LCM),  \
      SDRT_ERROR_INVALID_ARGUMENT, "original_inference_steps")                                 \
    X(g_guidance_nan, "guidance NaN", gp->guidance = (float)NAN, SDRT_ERROR_INVALID_ARGUMENT,  \
      "guidance")                                                                              \
    X(g_guidance_inf, "guidance +infinity", gp->guidance = (float)INFINITY,                    \
      SDRT_ERROR_INVALID_ARGUMENT, "guidance")                                                 \
    X(g_guidance_minf, "guidance -infinity", gp->guidance = -(float)INFINITY,                  \
      SDRT_ERROR_INVALID_ARGUMENT, "guidance")                                                 \
    X(g_guidance_neg, "guidance -1e30 (finite: no guidance)", gp->guidance = -1e30f, SDRT_OK,  \
      NULL)                                                                                    \
    X(g_count0, "count 0", gp->count = 0, SDRT_ERROR_INVALID_ARGUMENT, "count")                \
    X(g_count65, "count 65", gp->count = 65, SDRT_ERROR_INVALID_ARGUMENT, "count")             \
    X(g_count_million, "count 1000000", gp->count = 1000000, SDRT_ERROR_INVALID_ARGUMENT,      \
      "count")                                                                                 \
    X(g_seed_numpy, "seed 2^32 with the numpy generator", gp->seed = 4294967296ull,            \
      SDRT_ERROR_INVALID_ARGUMENT, "seed")                                                     \
    X(g_seed_torch, "seed UINT64_MAX with the torch generator",                                \
      (gp->seed = UINT64_MAX, gp->generator = SDRT_GENERATOR_TORCH), SDRT_OK, NULL)            \
    X(g_seed_torch_cuda, "seed UINT64_MAX with the torch-cuda generator",                      \
      (gp->seed = UINT64_MAX, gp->generator = SDRT_GENERATOR_TORCH_CUDA), SDRT_OK, NULL)       \
    X(g_scheduler13, "scheduler 13", gp->scheduler = 13, SDRT_ERROR_INVALID_ARGUMENT,          \
      "params->scheduler")                                                                     \
    X(g_scheduler_max, "scheduler UINT32_MAX", gp->scheduler = UINT32_MAX,                     \
      SDRT_ERROR_INVALID_ARGUMENT, "params->scheduler")                                        \
    X(g_generator3, "generator 3", gp->generator = 3, SDRT_ERROR_INVALID_ARGUMENT,             \
      "params->generator")                                                                     \
    X(g_generator_max, "generator UINT32_MAX", gp->generator = UINT32_MAX,                     \
      SDRT_ERROR_INVALID_ARGUMENT, "params->generator")                                        \
    X(g_prediction4, "prediction_type 4", gp->prediction_type = 4,                             \
      SDRT_ERROR_INVALID_ARGUMENT, "params->prediction_type")                                  \
    X(g_spacing4, "timestep_spacing 4", gp->timestep_spacing = 4,                              \
      SDRT_ERROR_INVALID_ARGUMENT, "params->timestep_spacing")                                 \
    X(g_preview4, "preview_kind 4", gp->preview_kind = 4, SDRT_ERROR_INVALID_ARGUMENT,         \
      "params->preview_kind")                                                                  \
    X(g_preview_taesd, "preview_kind TAESD without a decoder",                                 \
      gp->preview_kind = SDRT_PREVIEW_TAESD, SDRT_ERROR_INVALID_ARGUMENT, "preview")           \
    X(g_preview_every0, "preview_every 0 (never)",                                             \
      (gp->preview_kind = SDRT_PREVIEW_LATENT_RGB, gp->preview_every = 0), SDRT_OK, NULL)      \
    X(g_preview_every_max, "preview_every UINT32_MAX (after the last step only)",              \
      (gp->preview_kind = SDRT_PREVIEW_LATENT_RGB, gp->preview_every = UINT32_MAX), SDRT_OK,   \
      NULL)                                                                                    \
    X(g_eta_neg, "eta -0.5", gp->eta = -0.5f, SDRT_ERROR_INVALID_ARGUMENT, "eta")              \
    X(g_eta_nan, "eta NaN", gp->eta = (float)NAN, SDRT_ERROR_INVALID_ARGUMENT, "eta")          \
    X(g_eta_inf, "eta +infinity", gp->eta = (float)INFINITY, SDRT_ERROR_INVALID_ARGUMENT,      \
      "eta")                                                                                   \
    X(g_rescale_neg, "guidance_rescale -1", gp->guidance_rescale = -1.0f,                      \
      SDRT_ERROR_INVALID_ARGUMENT, "guidance_rescale")                                         \
    X(g_rescale_nan, "guidance_rescale NaN", gp->guidance_rescale = (float)NAN,                \
      SDRT_ERROR_INVALID_ARGUMENT, "guidance_rescale")                                         \
    X(g_progress_stop, "progress callback returning 0", gp->progress = stop_now,               \
      SDRT_ERROR_CANCELLED, "cancel")                                                          \
    X(g_step_stop, "step callback returning 0", gp->step_callback = stop_step,                 \
      SDRT_ERROR_CANCELLED, "cancel")                                                          \
    X(g_reentrant, "progress callback calling generate on its own pipeline (outer call)",      \
      (gp->progress = reenter, gp->steps = 2), SDRT_OK, NULL)                                  \
    X(g_init_ok, "init_image 64x64 RGB8", set_init(gp), SDRT_OK, NULL)                         \
    X(g_init_null, "init_image.data NULL with a size", (set_init(gp), gp->init_image.data = NULL), \
      SDRT_ERROR_INVALID_ARGUMENT, "init_image.data")                                          \
    X(g_init_width0, "init_image width 0 with data", (set_init(gp), gp->init_image.width = 0), \
      SDRT_ERROR_INVALID_ARGUMENT, "init_image")                                               \
    X(g_init_huge, "init_image width 100000", (set_init(gp), gp->init_image.width = 100000),   \
      SDRT_ERROR_INVALID_ARGUMENT, "init_image")                                               \
    X(g_init_stride, "init_image stride below a row", (set_init(gp), gp->init_image.stride = 191), \
      SDRT_ERROR_INVALID_ARGUMENT, "init_image.stride")                                        \
    X(g_init_stride_rgba, "init_image RGBA8 with an RGB8 stride",                              \
      (set_init(gp), gp->init_image.format = SDRT_PIXEL_FORMAT_RGBA8,                          \
       gp->init_image.stride = 64 * 3),                                                        \
      SDRT_ERROR_INVALID_ARGUMENT, "init_image.stride")                                        \
    X(g_init_format9, "init_image format 9", (set_init(gp), gp->init_image.format = 9),        \
      SDRT_ERROR_INVALID_ARGUMENT, "init_image.format")                                        \
    X(g_init_format_max, "init_image format UINT32_MAX",                                       \
      (set_init(gp), gp->init_image.format = UINT32_MAX), SDRT_ERROR_INVALID_ARGUMENT,         \
      "init_image.format")                                                                     \
    X(g_init_gray, "init_image GRAY8", (set_init(gp), gp->init_image.format = SDRT_PIXEL_FORMAT_GRAY8), \
      SDRT_ERROR_INVALID_ARGUMENT, "init_image.format")                                        \
    X(g_init_other_size, "init_image 64x64 with width 128",                                    \
      (set_init(gp), gp->width = 128), SDRT_ERROR_INVALID_ARGUMENT, "differs from init_image") \
    X(g_init_72, "init_image 72x64 (not runnable)",                                            \
      (set_init(gp), gp->init_image.data = rgb72, gp->init_image.width = 72),                  \
      SDRT_ERROR_INVALID_ARGUMENT, "width 72")                                                 \
    X(g_strength0, "strength 0", (set_init(gp), gp->strength = 0.0f),                          \
      SDRT_ERROR_INVALID_ARGUMENT, "strength")                                                 \
    X(g_strength2, "strength 2", (set_init(gp), gp->strength = 2.0f),                          \
      SDRT_ERROR_INVALID_ARGUMENT, "strength")                                                 \
    X(g_strength_nan, "strength NaN", (set_init(gp), gp->strength = (float)NAN),               \
      SDRT_ERROR_INVALID_ARGUMENT, "strength")                                                 \
    X(g_strength_no_step, "strength 0.4 with 2 steps (no step left)",                          \
      (set_init(gp), gp->strength = 0.4f), SDRT_ERROR_INVALID_ARGUMENT, "strength")            \
    X(g_mask_ok, "mask 64x64 GRAY8", set_mask(gp), SDRT_OK, NULL)                              \
    X(g_mask_null, "mask.data NULL with a size", (set_mask(gp), gp->mask.data = NULL),         \
      SDRT_ERROR_INVALID_ARGUMENT, "mask.data")                                                \
    X(g_mask_height0, "mask height 0 with data", (set_mask(gp), gp->mask.height = 0),          \
      SDRT_ERROR_INVALID_ARGUMENT, "mask")                                                     \
    X(g_mask_size, "mask 32x64 for a 64x64 image", (set_mask(gp), gp->mask.width = 32),        \
      SDRT_ERROR_INVALID_ARGUMENT, "mask")                                                     \
    X(g_mask_stride, "mask stride below a row", (set_mask(gp), gp->mask.stride = 63),          \
      SDRT_ERROR_INVALID_ARGUMENT, "mask.stride")                                              \
    X(g_mask_format9, "mask format 9", (set_mask(gp), gp->mask.format = 9),                    \
      SDRT_ERROR_INVALID_ARGUMENT, "mask.format")                                              \
    X(g_mask_rgb, "mask RGB8", (set_mask(gp), gp->mask.format = SDRT_PIXEL_FORMAT_RGB8),       \
      SDRT_ERROR_INVALID_ARGUMENT, "mask.format")                                              \
    X(g_mask_alone, "mask without init_image",                                                 \
      (set_mask(gp), gp->init_image.data = NULL, gp->init_image.width = 0,                     \
       gp->init_image.height = 0),                                                             \
      SDRT_ERROR_INVALID_ARGUMENT, "init_image")                                              \
    X(g_prompt2_sd, "prompt_2 on an SD model", gp->prompt_2 = "x",                             \
      SDRT_ERROR_INVALID_ARGUMENT, "prompt_2: only SDXL")                                      \
    X(g_prompt2_empty_sd, "prompt_2 \"\" on an SD model (NULL)", gp->prompt_2 = "", SDRT_OK,   \
      NULL)                                                                                    \
    X(g_prompt2_utf8, "prompt_2 not UTF-8", gp->prompt_2 = INVALID_UTF8,                       \
      SDRT_ERROR_INVALID_ARGUMENT, "params->prompt_2")                                         \
    X(g_negative2_sd, "negative_prompt_2 on an SD model", gp->negative_prompt_2 = "x",         \
      SDRT_ERROR_INVALID_ARGUMENT, "negative_prompt_2: only SDXL")                             \
    X(g_negative2_utf8, "negative_prompt_2 not UTF-8", gp->negative_prompt_2 = OVERLONG,       \
      SDRT_ERROR_INVALID_ARGUMENT, "params->negative_prompt_2")                                \
    X(g_original_sd, "original 64x64 on an SD model",                                          \
      (gp->original_width = 64, gp->original_height = 64), SDRT_ERROR_INVALID_ARGUMENT,        \
      "original_width/original_height")                                                        \
    X(g_original_half, "original_width without original_height", gp->original_width = 64,      \
      SDRT_ERROR_INVALID_ARGUMENT, "params->original_width/original_height")                   \
    X(g_crop_sd, "crop_y 8 on an SD model", gp->crop_y = 8, SDRT_ERROR_INVALID_ARGUMENT,       \
      "crop_x/crop_y")                                                                         \
    X(g_target_sd, "target 64x64 on an SD model",                                              \
      (gp->target_width = 64, gp->target_height = 64), SDRT_ERROR_INVALID_ARGUMENT,            \
      "target_width/target_height")                                                            \
    X(g_target_half, "target_height without target_width", gp->target_height = 64,            \
      SDRT_ERROR_INVALID_ARGUMENT, "params->target_width/target_height")                       \
    X(g_neg_original_sd, "negative_original 64x64 on an SD model",                             \
      (gp->negative_original_width = 64, gp->negative_original_height = 64),                   \
      SDRT_ERROR_INVALID_ARGUMENT, "negative_original_width/negative_original_height")         \
    X(g_neg_original_half, "negative_original_height alone",                                   \
      gp->negative_original_height = 8, SDRT_ERROR_INVALID_ARGUMENT,                           \
      "params->negative_original_width/negative_original_height")                              \
    X(g_neg_crop_sd, "negative_crop_x 4 on an SD model", gp->negative_crop_x = 4,              \
      SDRT_ERROR_INVALID_ARGUMENT, "negative_crop_x/negative_crop_y")                          \
    X(g_neg_target_sd, "negative_target 64x64 on an SD model",                                 \
      (gp->negative_target_width = 64, gp->negative_target_height = 64),                       \
      SDRT_ERROR_INVALID_ARGUMENT, "negative_target_width/negative_target_height")             \
    X(g_neg_target_half, "negative_target_width alone", gp->negative_target_width = 64,        \
      SDRT_ERROR_INVALID_ARGUMENT, "params->negative_target_width/negative_target_height")     \
    X(g_aesthetic_sd, "aesthetic_score 7 on an SD model", gp->aesthetic_score = 7.0f,          \
      SDRT_ERROR_INVALID_ARGUMENT, "aesthetic_score: only SDXL")                               \
    X(g_neg_aesthetic_sd, "negative_aesthetic_score 1 on an SD model",                         \
      gp->negative_aesthetic_score = 1.0f, SDRT_ERROR_INVALID_ARGUMENT,                        \
      "negative_aesthetic_score: only SDXL")                                                   \
    X(g_output_latents2, "output_latents 2", gp->output_latents = 2,                           \
      SDRT_ERROR_INVALID_ARGUMENT, "params->output_latents")                                   \
    X(g_output_latents_max, "output_latents UINT32_MAX", gp->output_latents = UINT32_MAX,      \
      SDRT_ERROR_INVALID_ARGUMENT, "params->output_latents")                                   \
    X(g_start_nan, "denoising_start NaN", (set_init(gp), gp->denoising_start = (float)NAN),    \
      SDRT_ERROR_INVALID_ARGUMENT, "denoising_start")                                          \
    X(g_start_1, "denoising_start 1", (set_init(gp), gp->denoising_start = 1.0f),              \
      SDRT_ERROR_INVALID_ARGUMENT, "denoising_start")                                          \
    X(g_start_neg, "denoising_start -0.5", (set_init(gp), gp->denoising_start = -0.5f),        \
      SDRT_ERROR_INVALID_ARGUMENT, "denoising_start")                                          \
    X(g_start_no_input, "denoising_start 0.5 with neither latents nor init_image (NULL)",      \
      gp->denoising_start = 0.5f, SDRT_ERROR_INVALID_ARGUMENT, "denoising_start")              \
    X(g_start_above_end, "denoising_start 0.6 above denoising_end 0.4",                        \
      (set_init(gp), gp->denoising_start = 0.6f, gp->denoising_end = 0.4f),                    \
      SDRT_ERROR_INVALID_ARGUMENT, "denoising_start")                                          \
    X(g_start_equal_end, "denoising_start 0.5 equal to denoising_end",                         \
      (set_init(gp), gp->denoising_start = 0.5f, gp->denoising_end = 0.5f),                    \
      SDRT_ERROR_INVALID_ARGUMENT, "denoising_start")                                          \
    X(g_end_1, "denoising_end 1", gp->denoising_end = 1.0f, SDRT_ERROR_INVALID_ARGUMENT,       \
      "denoising_end")                                                                         \
    X(g_end_inf, "denoising_end +infinity", gp->denoising_end = (float)INFINITY,               \
      SDRT_ERROR_INVALID_ARGUMENT, "denoising_end")                                            \
    X(g_end_no_step, "denoising_end 0.01 with 1 step (no step before it)",                     \
      gp->denoising_end = 0.01f, SDRT_ERROR_INVALID_ARGUMENT, "denoising_end")                 \
    X(g_end_ok, "denoising_end 0.5 with 4 steps", (gp->steps = 4, gp->denoising_end = 0.5f),   \
      SDRT_OK, NULL)                                                                           \
    X(g_latents_sd_ok, "latents of tiny-sd2's family from 0.5 of 4 steps",                     \
      set_latents(gp, "sd", 1, 4), SDRT_OK, NULL)                                              \
    X(g_latents_no_start, "latents without denoising_start (noised to strength)",              \
      (set_latents(gp, "sd", 1, 4), gp->denoising_start = 0.0f), SDRT_OK, NULL)               \
    X(g_latents_sdxl, "SDXL latents into an SD model", set_latents(gp, "sdxl", 1, 4),          \
      SDRT_ERROR_INVALID_ARGUMENT, "latents: they are in sdxl's latent space")                 \
    X(g_latents_family_unknown, "latents of family \"flux\"", set_latents(gp, "flux", 1, 4),   \
      SDRT_ERROR_INVALID_ARGUMENT, "latents")                                                  \
    X(g_latents_family_null, "latents->family NULL",                                           \
      (set_latents(gp, "sd", 1, 4), lat_view.family = NULL), SDRT_ERROR_INVALID_ARGUMENT,      \
      "params->latents->family")                                                               \
    X(g_latents_family_utf8, "latents->family not UTF-8",                                      \
      (set_latents(gp, "sd", 1, 4), lat_view.family = INVALID_UTF8),                           \
      SDRT_ERROR_INVALID_ARGUMENT, "params->latents->family")                                  \
    X(g_latents_data_null, "latents->data NULL", (set_latents(gp, "sd", 1, 4), lat_view.data = NULL), \
      SDRT_ERROR_INVALID_ARGUMENT, "params->latents->data")                                    \
    X(g_latents_struct0, "latents->struct_size 0",                                             \
      (set_latents(gp, "sd", 1, 4), lat_view.struct_size = 0), SDRT_ERROR_INVALID_ARGUMENT,    \
      "params->latents->struct_size")                                                          \
    X(g_latents_struct_short, "latents->struct_size one field short",                          \
      (set_latents(gp, "sd", 1, 4), lat_view.struct_size = (uint32_t)offsetof(sdrt_latents, family)), \
      SDRT_ERROR_INVALID_ARGUMENT, "params->latents->struct_size")                             \
    X(g_latents_empty, "latents of count 0", set_latents(gp, "sd", 0, 4),                      \
      SDRT_ERROR_INVALID_ARGUMENT, "params->latents: shape")                                   \
    X(g_latents_huge, "latents of UINT32_MAX x 4 x 8 x 8 (no read past data)",                 \
      set_latents(gp, "sd", UINT32_MAX, 4), SDRT_ERROR_INVALID_ARGUMENT, "params->latents")    \
    X(g_latents_channels, "latents of 3 channels", set_latents(gp, "sd", 1, 3),                \
      SDRT_ERROR_INVALID_ARGUMENT, "latents: shape")                                           \
    X(g_latents_count, "latents of 2 images for count 1", set_latents(gp, "sd", 2, 4),         \
      SDRT_ERROR_INVALID_ARGUMENT, "latents: shape")                                           \
    X(g_latents_nan, "latents holding a NaN", (set_latents(gp, "sd", 1, 4), lat[5] = (float)NAN), \
      SDRT_ERROR_INVALID_ARGUMENT, "not finite")                                               \
    X(g_latents_with_init, "latents and init_image", (set_init(gp), set_latents(gp, "sd", 1, 4)), \
      SDRT_ERROR_INVALID_ARGUMENT, "latents or an init image")                                 \
    X(g_latents_other_size, "8x8 latents with width 128", (set_latents(gp, "sd", 1, 4), gp->width = 128), \
      SDRT_ERROR_INVALID_ARGUMENT, "differs from the latents'")                                \
    X(g_loras_null, "lora_count 1 with loras NULL", gp->lora_count = 1,                        \
      SDRT_ERROR_INVALID_ARGUMENT, "params->loras is NULL")                                    \
    X(g_loras_handle_null, "a NULL LoRA handle", set_loras(gp, NULL, 1.0f, 1),                 \
      SDRT_ERROR_INVALID_ARGUMENT, "params->loras[0].lora is NULL")                            \
    X(g_loras_bogus, "a LoRA handle never loaded (not dereferenced)",                          \
      set_loras(gp, (sdrt_lora *)(uintptr_t)0xdeadbeef, 1.0f, 1), SDRT_ERROR_INVALID_ARGUMENT, \
      "not loaded in this pipeline")                                                           \
    X(g_loras_count_max, "lora_count UINT32_MAX (no read past the array)",                     \
      set_loras(gp, (sdrt_lora *)(uintptr_t)0xdeadbeef, 1.0f, UINT32_MAX),                     \
      SDRT_ERROR_INVALID_ARGUMENT, "params->lora_count")

/* One {lora, scale} pair lent as the call's loras, with `count` as lora_count. */
static sdrt_lora_weight lora_pair[1];
static void set_loras(sdrt_generate_params *gp, sdrt_lora *lora, float scale, uint32_t count) {
    lora_pair[0].lora = lora;
    lora_pair[0].scale = scale;
    gp->loras = lora_pair;
    gp->lora_count = count;
}

typedef struct {
    const char *desc;
    sdrt_generate_params *(*apply)(sdrt_generate_params *gp);
    sdrt_status want;
    const char *needle;
} generate_case;

#define GENERATE_FN(id, desc, stmt, want, needle)                                             \
    static sdrt_generate_params *id(sdrt_generate_params *gp) {                               \
        stmt;                                                                                 \
        return gp;                                                                            \
    }
GENERATE_CASES(GENERATE_FN)
#define GENERATE_ROW(id, desc, stmt, want, needle) {desc, id, want, needle},
static const generate_case generate_cases[] = {GENERATE_CASES(GENERATE_ROW)};

static void run_generate_cases(void) {
    size_t i;
    for (i = 0; i < sizeof generate_cases / sizeof generate_cases[0]; i++) {
        const generate_case *c = &generate_cases[i];
        sdrt_generate_params base;
        sdrt_generate_params *gp;
        sdrt_images *out = IMAGES_SENTINEL;
        sdrt_status st;
        sdrt_generate_params_init(&base);
        base.prompt = "a red cube";
        base.steps = 1;
        for (size_t k = 0; k < sizeof lat / sizeof lat[0]; k++) {
            lat[k] = (float)(k % 7) * 0.25f - 0.75f;
        }
        gp = c->apply(&base);
        st = sdrt_pipeline_generate(pipe_, gp, &out);
        check_row("generate", c->desc, st, c->want, c->needle, out == IMAGES_SENTINEL);
        if (st == SDRT_OK) {
            check_value("  ...and returned images", out != IMAGES_SENTINEL && out != NULL &&
                                                        sdrt_images_count(out) >= 1 &&
                                                        sdrt_images_data(out, 0) != NULL);
            if (out != IMAGES_SENTINEL) {
                sdrt_images_free(out);
            }
        }
    }
    check_value("a generate from its own pipeline's callback was refused (own callback)",
                reentrant_status == SDRT_ERROR_INVALID_ARGUMENT &&
                    strstr(reentrant_message, "own callback") != NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* sdrt_pipeline_create: hostile sdrt_pipeline_options fields (the model is tiny-sd2).
 * X(id, description, statement on `po` (may point po elsewhere), status, message word). */

static unsigned char grown_options[sizeof(sdrt_pipeline_options) + 64];
static sdrt_pipeline_options *grown_po(sdrt_pipeline_options *po) {
    memset(grown_options, 0x5A, sizeof grown_options);
    memcpy(grown_options, po, sizeof *po);
    ((sdrt_pipeline_options *)(void *)grown_options)->struct_size =
        (uint32_t)sizeof grown_options;
    return (sdrt_pipeline_options *)(void *)grown_options;
}

#define OPTIONS_CASES(X)                                                                       \
    X(o_struct0, "struct_size 0", po->struct_size = 0, SDRT_ERROR_INVALID_ARGUMENT,            \
      "options->struct_size")                                                                  \
    X(o_struct_short, "struct_size one field short of the first layout",                       \
      po->struct_size = (uint32_t)offsetof(sdrt_pipeline_options, coreml_cache_dir),           \
      SDRT_ERROR_INVALID_ARGUMENT, "options->struct_size")                                     \
    X(o_struct_grown, "struct_size 64 bytes larger, garbage beyond", po = grown_po(po),        \
      SDRT_OK, NULL)                                                                           \
    X(o_provider6, "provider 6", po->provider = 6, SDRT_ERROR_INVALID_ARGUMENT,                \
      "options->provider")                                                                     \
    X(o_provider_max, "provider UINT32_MAX", po->provider = UINT32_MAX,                        \
      SDRT_ERROR_INVALID_ARGUMENT, "options->provider")                                        \
    X(o_units4, "coreml_compute_units 4", po->coreml_compute_units = 4,                        \
      SDRT_ERROR_INVALID_ARGUMENT, "options->coreml_compute_units")                            \
    X(o_cache_utf8, "coreml_cache_dir not UTF-8", po->coreml_cache_dir = INVALID_UTF8,         \
      SDRT_ERROR_INVALID_ARGUMENT, "options->coreml_cache_dir")                                \
    X(o_preview_utf8, "preview_decoder_path not UTF-8",                                        \
      po->preview_decoder_path = INVALID_UTF8, SDRT_ERROR_INVALID_ARGUMENT,                    \
      "options->preview_decoder_path")                                                         \
    X(o_cuda_neg, "cuda_device_id -1", po->cuda_device_id = -1, SDRT_ERROR_INVALID_ARGUMENT,   \
      "options->cuda_device_id")                                                               \
    X(o_threads_million, "intra_op_threads 1000000", po->intra_op_threads = 1000000,           \
      SDRT_ERROR_INVALID_ARGUMENT, "options->intra_op_threads")                                \
    X(o_threads_max, "intra_op_threads UINT32_MAX", po->intra_op_threads = UINT32_MAX,         \
      SDRT_ERROR_INVALID_ARGUMENT, "options->intra_op_threads")

typedef struct {
    const char *desc;
    sdrt_pipeline_options *(*apply)(sdrt_pipeline_options *po);
    sdrt_status want;
    const char *needle;
} options_case;

#define OPTIONS_FN(id, desc, stmt, want, needle)                                              \
    static sdrt_pipeline_options *id(sdrt_pipeline_options *po) {                             \
        stmt;                                                                                 \
        return po;                                                                            \
    }
OPTIONS_CASES(OPTIONS_FN)
#define OPTIONS_ROW(id, desc, stmt, want, needle) {desc, id, want, needle},
static const options_case options_cases[] = {OPTIONS_CASES(OPTIONS_ROW)};

static void run_options_cases(void) {
    size_t i;
    for (i = 0; i < sizeof options_cases / sizeof options_cases[0]; i++) {
        const options_case *c = &options_cases[i];
        sdrt_pipeline_options base;
        sdrt_pipeline *p = PIPELINE_SENTINEL;
        sdrt_status st;
        sdrt_pipeline_options_init(&base);
        st = sdrt_pipeline_create(model_dir, c->apply(&base), &p);
        check_row("create", c->desc, st, c->want, c->needle, p == PIPELINE_SENTINEL);
        if (st == SDRT_OK && p != PIPELINE_SENTINEL) {
            sdrt_pipeline_free(p);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* sdrt_runtime_init once the runtime is loaded: hostile sdrt_runtime_options fields.
 * Base: sdrt_runtime_options_init with the loaded library's path. */

static unsigned char grown_runtime[sizeof(sdrt_runtime_options) + 64];
static sdrt_runtime_options *grown_ro(sdrt_runtime_options *ro) {
    memset(grown_runtime, 0xC3, sizeof grown_runtime);
    memcpy(grown_runtime, ro, sizeof *ro);
    ((sdrt_runtime_options *)(void *)grown_runtime)->struct_size =
        (uint32_t)sizeof grown_runtime;
    return (sdrt_runtime_options *)(void *)grown_runtime;
}

#define RUNTIME_CASES(X)                                                                       \
    X(r_struct0, "struct_size 0", ro->struct_size = 0, SDRT_ERROR_INVALID_ARGUMENT,            \
      "struct_size")                                                                           \
    X(r_struct_short, "struct_size one field short of the first layout",                       \
      ro->struct_size = (uint32_t)offsetof(sdrt_runtime_options, log_user_data),               \
      SDRT_ERROR_INVALID_ARGUMENT, "struct_size")                                              \
    X(r_struct_grown, "struct_size 64 bytes larger, garbage beyond", ro = grown_ro(ro),        \
      SDRT_OK, NULL)                                                                           \
    X(r_level5, "log_level 5", ro->log_level = 5, SDRT_ERROR_INVALID_ARGUMENT, "log_level")    \
    X(r_level_max, "log_level UINT32_MAX", ro->log_level = UINT32_MAX,                         \
      SDRT_ERROR_INVALID_ARGUMENT, "log_level")                                                \
    X(r_path_utf8, "ort_library_path not UTF-8", ro->ort_library_path = INVALID_UTF8,          \
      SDRT_ERROR_INVALID_ARGUMENT, "ort_library_path")                                         \
    X(r_path_other, "ort_library_path another library once loaded",                           \
      ro->ort_library_path = "/nonexistent/libonnxruntime.so", SDRT_ERROR_ALREADY_INITIALIZED, \
      "already")

typedef struct {
    const char *desc;
    sdrt_runtime_options *(*apply)(sdrt_runtime_options *ro);
    sdrt_status want;
    const char *needle;
} runtime_case;

#define RUNTIME_FN(id, desc, stmt, want, needle)                                              \
    static sdrt_runtime_options *id(sdrt_runtime_options *ro) {                               \
        stmt;                                                                                 \
        return ro;                                                                            \
    }
RUNTIME_CASES(RUNTIME_FN)
#define RUNTIME_ROW(id, desc, stmt, want, needle) {desc, id, want, needle},
static const runtime_case runtime_cases[] = {RUNTIME_CASES(RUNTIME_ROW)};

static void run_runtime_cases(void) {
    size_t i;
    for (i = 0; i < sizeof runtime_cases / sizeof runtime_cases[0]; i++) {
        const runtime_case *c = &runtime_cases[i];
        sdrt_runtime_options base;
        sdrt_runtime_options_init(&base);
        base.ort_library_path = ort_library;
        check_row("runtime", c->desc, sdrt_runtime_init(c->apply(&base)), c->want, c->needle,
                  1);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* sdrt_pipeline_get_info: hostile sdrt_pipeline_info struct sizes. */

static unsigned char grown_info[sizeof(sdrt_pipeline_info) + 64];
static sdrt_pipeline_info *grown_pi(sdrt_pipeline_info *info) {
    memset(grown_info, 0xEE, sizeof grown_info);
    memcpy(grown_info, info, sizeof *info);
    ((sdrt_pipeline_info *)(void *)grown_info)->struct_size = (uint32_t)sizeof grown_info;
    return (sdrt_pipeline_info *)(void *)grown_info;
}

#define INFO_CASES(X)                                                                          \
    X(i_struct0, "struct_size 0", info->struct_size = 0, SDRT_ERROR_INVALID_ARGUMENT,          \
      "info->struct_size")                                                                     \
    X(i_struct_short, "struct_size one field short of the first layout",                       \
      info->struct_size = (uint32_t)offsetof(sdrt_pipeline_info, default_scheduler_class),     \
      SDRT_ERROR_INVALID_ARGUMENT, "info->struct_size")                                        \
    X(i_struct_grown, "struct_size 64 bytes larger (extra left alone)", info = grown_pi(info), \
      SDRT_OK, NULL)

typedef struct {
    const char *desc;
    sdrt_pipeline_info *(*apply)(sdrt_pipeline_info *info);
    sdrt_status want;
    const char *needle;
} info_case;

#define INFO_FN(id, desc, stmt, want, needle)                                                 \
    static sdrt_pipeline_info *id(sdrt_pipeline_info *info) {                                 \
        stmt;                                                                                 \
        return info;                                                                          \
    }
INFO_CASES(INFO_FN)
#define INFO_ROW(id, desc, stmt, want, needle) {desc, id, want, needle},
static const info_case info_cases[] = {INFO_CASES(INFO_ROW)};

static void run_info_cases(void) {
    size_t i, k;
    for (i = 0; i < sizeof info_cases / sizeof info_cases[0]; i++) {
        const info_case *c = &info_cases[i];
        sdrt_pipeline_info base;
        sdrt_pipeline_info *info;
        sdrt_pipeline_info_init(&base);
        base.native_width = 12345;
        info = c->apply(&base);
        check_row("info", c->desc, sdrt_pipeline_get_info(pipe_, info), c->want, c->needle,
                  info->native_width == 12345);
    }
    {
        int untouched = 1;
        sdrt_pipeline_info *g = (sdrt_pipeline_info *)(void *)grown_info;
        for (k = sizeof(sdrt_pipeline_info); k < sizeof grown_info; k++) {
            untouched = untouched && grown_info[k] == 0xEE;
        }
        check_value("  ...a larger info struct keeps its struct_size and extra bytes",
                    untouched && g->struct_size == sizeof grown_info && g->native_width == 64);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* NULL for every pointer argument of every function, and the other status-returning calls.
 * X(id, description, call expression, status, message word); `out`-parameters in these
 * calls are sentinels checked by the runner. */

static sdrt_pipeline *null_p_out = PIPELINE_SENTINEL;
static sdrt_images *null_i_out = IMAGES_SENTINEL;

static sdrt_status generate_default(sdrt_pipeline *p, sdrt_images **out) {
    sdrt_generate_params gp;
    sdrt_generate_params_init(&gp);
    gp.steps = 1;
    return sdrt_pipeline_generate(p, &gp, out);
}

static sdrt_status get_info_into(sdrt_pipeline *p) {
    sdrt_pipeline_info info;
    sdrt_pipeline_info_init(&info);
    return sdrt_pipeline_get_info(p, &info);
}

#define CALL_CASES(X)                                                                          \
    X(c_create_dir_null, "sdrt_pipeline_create(model_dir NULL)",                               \
      sdrt_pipeline_create(NULL, NULL, &null_p_out), SDRT_ERROR_INVALID_ARGUMENT, "model_dir") \
    X(c_create_out_null, "sdrt_pipeline_create(out NULL)",                                     \
      sdrt_pipeline_create(model_dir, NULL, NULL), SDRT_ERROR_INVALID_ARGUMENT, "out")         \
    X(c_create_dir_utf8, "sdrt_pipeline_create(model_dir not UTF-8)",                          \
      sdrt_pipeline_create(INVALID_UTF8, NULL, &null_p_out), SDRT_ERROR_INVALID_ARGUMENT,      \
      "UTF-8")                                                                                 \
    X(c_create_dir_empty, "sdrt_pipeline_create(model_dir \"\")",                              \
      sdrt_pipeline_create("", NULL, &null_p_out), SDRT_ERROR_MODEL_NOT_FOUND, "does not exist") \
    X(c_create_dir_file, "sdrt_pipeline_create(model_dir a file)",                             \
      sdrt_pipeline_create(ort_library, NULL, &null_p_out), SDRT_ERROR_MODEL_NOT_FOUND,        \
      "does not exist")                                                                        \
    X(c_create_dir_missing, "sdrt_pipeline_create(model_dir missing)",                         \
      sdrt_pipeline_create("/nonexistent/sdrt-model", NULL, &null_p_out),                      \
      SDRT_ERROR_MODEL_NOT_FOUND, "/nonexistent/sdrt-model")                                   \
    X(c_info_null_pipe, "sdrt_pipeline_get_info(pipeline NULL)", get_info_into(NULL),          \
      SDRT_ERROR_INVALID_ARGUMENT, "pipeline")                                                 \
    X(c_info_null_info, "sdrt_pipeline_get_info(info NULL)",                                   \
      sdrt_pipeline_get_info(pipe_, NULL), SDRT_ERROR_INVALID_ARGUMENT, "info")                \
    X(c_gen_null_pipe, "sdrt_pipeline_generate(pipeline NULL)",                                \
      generate_default(NULL, &null_i_out), SDRT_ERROR_INVALID_ARGUMENT, "pipeline")            \
    X(c_gen_null_params, "sdrt_pipeline_generate(params NULL)",                                \
      sdrt_pipeline_generate(pipe_, NULL, &null_i_out), SDRT_ERROR_INVALID_ARGUMENT, "params") \
    X(c_gen_null_out, "sdrt_pipeline_generate(out NULL)", generate_default(pipe_, NULL),       \
      SDRT_ERROR_INVALID_ARGUMENT, "out")                                                      \
    X(c_runtime_null, "sdrt_runtime_init(options NULL: defaults, same library)",               \
      sdrt_runtime_init(NULL), SDRT_OK, NULL)

typedef struct {
    const char *desc;
    sdrt_status (*call)(void);
    sdrt_status want;
    const char *needle;
} call_case;

#define CALL_FN(id, desc, expr, want, needle)                                                 \
    static sdrt_status id(void) { return (expr); }
CALL_CASES(CALL_FN)
#define CALL_ROW(id, desc, expr, want, needle) {desc, id, want, needle},
static const call_case call_cases[] = {CALL_CASES(CALL_ROW)};

static void run_call_cases(void) {
    size_t i;
    for (i = 0; i < sizeof call_cases / sizeof call_cases[0]; i++) {
        const call_case *c = &call_cases[i];
        sdrt_status st;
        null_p_out = PIPELINE_SENTINEL;
        null_i_out = IMAGES_SENTINEL;
        st = c->call();
        check_row("call", c->desc, st, c->want, c->needle,
                  null_p_out == PIPELINE_SENTINEL && null_i_out == IMAGES_SENTINEL);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Functions that return no status: NULL arguments, out-of-range indices, unknown numbers.
 * X(id, description, expression that must be true). */

static int no_ops(void) {
    sdrt_pipeline_free(NULL);
    sdrt_images_free(NULL);
    sdrt_pipeline_cancel(NULL);
    /* The plain symbols and the sized ones: the *_init macros need a typed pointer. */
    (sdrt_runtime_options_init)(NULL);
    (sdrt_pipeline_options_init)(NULL);
    (sdrt_generate_params_init)(NULL);
    (sdrt_pipeline_info_init)(NULL);
    sdrt_runtime_options_init_sized(NULL, 4096);
    sdrt_pipeline_options_init_sized(NULL, 4096);
    sdrt_generate_params_init_sized(NULL, 4096);
    sdrt_pipeline_info_init_sized(NULL, 4096);
    return 1;
}

#define VALUE_CASES(X)                                                                         \
    X(v_no_ops, "*_free(NULL), *_init(NULL), sdrt_pipeline_cancel(NULL) do nothing", no_ops()) \
    X(v_count_null, "sdrt_images_count(NULL) = 0", sdrt_images_count(NULL) == 0)               \
    X(v_width_null, "sdrt_images_width(NULL) = 0", sdrt_images_width(NULL) == 0)               \
    X(v_height_null, "sdrt_images_height(NULL) = 0", sdrt_images_height(NULL) == 0)            \
    X(v_channels_null, "sdrt_images_channels(NULL) = 0", sdrt_images_channels(NULL) == 0)      \
    X(v_data_null, "sdrt_images_data(NULL, 0) = NULL", sdrt_images_data(NULL, 0) == NULL)      \
    X(v_data_null_max, "sdrt_images_data(NULL, UINT32_MAX) = NULL",                            \
      sdrt_images_data(NULL, UINT32_MAX) == NULL)                                              \
    X(v_data_in_range, "sdrt_images_data(2 images, 1) != NULL",                                \
      sdrt_images_data(images2, 1) != NULL)                                                    \
    X(v_data_count, "sdrt_images_data(2 images, 2) = NULL", sdrt_images_data(images2, 2) == NULL) \
    X(v_data_big, "sdrt_images_data(2 images, 1000000) = NULL",                                \
      sdrt_images_data(images2, 1000000) == NULL)                                              \
    X(v_data_max, "sdrt_images_data(2 images, UINT32_MAX) = NULL",                             \
      sdrt_images_data(images2, UINT32_MAX) == NULL)                                           \
    X(v_status_unknown, "sdrt_status_str(12) = SDRT_ERROR_UNKNOWN",                            \
      strcmp(sdrt_status_str(12), "SDRT_ERROR_UNKNOWN") == 0)                                  \
    X(v_status_max, "sdrt_status_str(UINT32_MAX) = SDRT_ERROR_UNKNOWN",                        \
      strcmp(sdrt_status_str(UINT32_MAX), "SDRT_ERROR_UNKNOWN") == 0)                          \
    X(v_last_error, "sdrt_last_error_message() is never NULL", sdrt_last_error_message() != NULL) \
    X(v_version, "sdrt_version() is never NULL", sdrt_version() != NULL)                       \
    X(v_ort_version, "sdrt_runtime_ort_version() once loaded", sdrt_runtime_ort_version() != NULL)

#define VALUE_FN(id, desc, expr)                                                              \
    static int id(void) { return (expr); }
VALUE_CASES(VALUE_FN)
#define VALUE_ROW(id, desc, expr) {desc, id},
typedef struct {
    const char *desc;
    int (*check)(void);
} value_case;
static const value_case value_cases[] = {VALUE_CASES(VALUE_ROW)};

static void run_value_cases(void) {
    size_t i;
    for (i = 0; i < sizeof value_cases / sizeof value_cases[0]; i++) {
        check_value(value_cases[i].desc, value_cases[i].check());
    }
}

/* ---------------------------------------------------------------------------------------- */

static char *filled(size_t n, const char *unit) {
    size_t len = strlen(unit), i;
    char *s = (char *)malloc(n + 1);
    if (s == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (i = 0; i < n; i++) {
        s[i] = unit[i % len];
    }
    s[n] = '\0';
    return s;
}

int main(int argc, char **argv) {
    sdrt_runtime_options ro;
    sdrt_generate_params gp;
    sdrt_status st;
    size_t i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3) {
        fprintf(stderr, "usage: hostile MODEL_DIR ORT_LIBRARY\n");
        return 2;
    }
    model_dir = argv[1];
    ort_library = argv[2];
    big_prompt = filled(5u << 20, "a lighthouse on a cliff at dusk, ");
    big_word = filled(5u << 20, "lighthouse");
    big_spaces = filled(5u << 20, " \t\n");
    for (i = 0; i < sizeof rgb; i++) {
        rgb[i] = (uint8_t)(i * 7);
    }
    for (i = 0; i < sizeof gray; i++) {
        gray[i] = (uint8_t)((i % 64) < 32 ? 0 : 255);
    }
    memset(rgb72, 100, sizeof rgb72);

    sdrt_runtime_options_init(&ro);
    ro.ort_library_path = ort_library;
    st = sdrt_runtime_init(&ro);
    if (st != SDRT_OK) {
        fprintf(stderr, "FAIL runtime init: %s\n", sdrt_last_error_message());
        return 1;
    }
    st = sdrt_pipeline_create(model_dir, NULL, &pipe_);
    if (st != SDRT_OK) {
        fprintf(stderr, "FAIL cannot load %s: %s\n", model_dir, sdrt_last_error_message());
        return 1;
    }
    sdrt_generate_params_init(&gp);
    gp.steps = 1;
    gp.count = 2;
    if (sdrt_pipeline_generate(pipe_, &gp, &images2) != SDRT_OK) {
        fprintf(stderr, "FAIL generate: %s\n", sdrt_last_error_message());
        return 1;
    }

    run_value_cases();
    run_call_cases();
    run_runtime_cases();
    run_options_cases();
    run_info_cases();
    run_generate_cases();

    sdrt_images_free(images2);
    sdrt_pipeline_free(pipe_);
    free(big_prompt);
    free(big_word);
    free(big_spaces);
    printf("%d hostile cases (and %d checks of their results), %d failed\n", cases, followups,
           failures);
    return failures == 0 ? 0 : 1;
}
