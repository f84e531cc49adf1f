/*
 * Hostile calls of the SDXL part of the sdrt C API, on the tiny SDXL base and refiner: the
 * micro-conditioning checks only an SDXL model makes, the base-to-refiner hand-off
 * (output_latents, sdrt_images_latents, latents with denoising_start) with NULL, foreign
 * and misshapen latents, and sdrt_images_latents' contract (NULL arguments, images without
 * latents, a short struct_size; the view is owned by the images, the same on every call,
 * and the latents given to a call are copied when it starts). Built and run by
 * tests/hostile.rs; the SD-model rows of the same fields are in tests/c/hostile.c.
 *
 *   hostile_sdxl BASE_DIR REFINER_DIR ORT_LIBRARY
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

static sdrt_pipeline *base_ = NULL;    /* tiny-sdxl */
static sdrt_pipeline *refiner_ = NULL; /* tiny-sdxl-refiner */
static sdrt_images *handoff_ = NULL;   /* the base's latents: 1x4x8x8, to 0.8 of 6 steps */
static sdrt_latents handoff_view;      /* sdrt_images_latents of handoff_ */

static uint8_t rgb[64 * 64 * 3];

static int images_sentinel_storage;
#define IMAGES_SENTINEL ((sdrt_images *)(void *)&images_sentinel_storage)

/* The request every row starts from: the hand-off golden's, 64x64, 6 steps, guidance 5. */
static void base_params(sdrt_generate_params *gp) {
    sdrt_generate_params_init(gp);
    gp->prompt = "a photo of an astronaut riding a horse on mars";
    gp->width = 64;
    gp->height = 64;
    gp->steps = 6;
    gp->guidance = 5.0f;
    gp->seed = 80;
}

static void set_latents(sdrt_generate_params *gp, const char *family, uint32_t count,
                        uint32_t channels) {
    lend_latents(gp, family, count, channels);
    gp->denoising_start = 0.8f;
}

static void set_init(sdrt_generate_params *gp) {
    gp->init_image.data = rgb;
    gp->init_image.width = 64;
    gp->init_image.height = 64;
    gp->init_image.format = SDRT_PIXEL_FORMAT_RGB8;
}

/* ---------------------------------------------------------------------------------------- */
/* sdrt_pipeline_generate on the SDXL models.
 * X(id, description, pipeline, statement on `gp`, status, message word). */

#define SDXL_CASES(X)                                                                          \
    X(x_ok, "the base, defaults", base_, (void)gp, SDRT_OK, NULL)                              \
    X(x_micro_ok, "the base with every micro-conditioning field",                              \
      base_,                                                                                   \
      (gp->original_width = 256, gp->original_height = 192, gp->crop_x = 8, gp->crop_y = 16,   \
       gp->target_width = 64, gp->target_height = 80, gp->negative_original_width = 512,       \
       gp->negative_original_height = 512, gp->negative_crop_x = 4, gp->negative_crop_y = 2,   \
       gp->negative_target_width = 64, gp->negative_target_height = 64),                       \
      SDRT_OK, NULL)                                                                           \
    X(x_prompt2_ok, "the base with prompt_2 and negative_prompt_2", base_,                     \
      (gp->prompt_2 = "watercolor", gp->negative_prompt_2 = "grey"), SDRT_OK, NULL)            \
    X(x_crop_out, "crop_x 64 outside the default original size 64x64", base_,                  \
      gp->crop_x = 64, SDRT_ERROR_INVALID_ARGUMENT, "crop_x/crop_y")                           \
    X(x_crop_out_original, "crop_y 40 outside original 32x32", base_,                          \
      (gp->original_width = 32, gp->original_height = 32, gp->crop_y = 40),                    \
      SDRT_ERROR_INVALID_ARGUMENT, "crop_x/crop_y")                                            \
    X(x_crop_max, "crop_x UINT32_MAX", base_, gp->crop_x = UINT32_MAX,                         \
      SDRT_ERROR_INVALID_ARGUMENT, "crop_x/crop_y")                                            \
    X(x_neg_crop_out, "negative_crop_y 64 outside the output size", base_,                     \
      gp->negative_crop_y = 64, SDRT_ERROR_INVALID_ARGUMENT, "negative_crop_x/negative_crop_y") \
    X(x_original_big, "original 70000x64", base_,                                              \
      (gp->original_width = 70000, gp->original_height = 64), SDRT_ERROR_INVALID_ARGUMENT,     \
      "original_width/original_height")                                                        \
    X(x_target_max, "target UINT32_MAX x 64", base_,                                           \
      (gp->target_width = UINT32_MAX, gp->target_height = 64), SDRT_ERROR_INVALID_ARGUMENT,    \
      "target_width/target_height")                                                            \
    X(x_neg_target_big, "negative_target 64 x 100000", base_,                                  \
      (gp->negative_target_width = 64, gp->negative_target_height = 100000),                   \
      SDRT_ERROR_INVALID_ARGUMENT, "negative_target_width/negative_target_height")             \
    X(x_aesthetic_nan, "aesthetic_score NaN", refiner_,                                        \
      (set_init(gp), gp->aesthetic_score = (float)NAN), SDRT_ERROR_INVALID_ARGUMENT,           \
      "aesthetic_score")                                                                       \
    X(x_neg_aesthetic_inf, "negative_aesthetic_score -infinity", refiner_,                     \
      (set_init(gp), gp->negative_aesthetic_score = -(float)INFINITY),                         \
      SDRT_ERROR_INVALID_ARGUMENT, "negative_aesthetic_score")                                 \
    X(x_refiner_text, "the refiner with neither latents nor init_image", refiner_, (void)gp,   \
      SDRT_ERROR_INVALID_ARGUMENT, "refiner")                                                  \
    X(x_refiner_start_null, "the refiner: denoising_start 0.8, latents NULL", refiner_,        \
      gp->denoising_start = 0.8f, SDRT_ERROR_INVALID_ARGUMENT, "denoising_start")              \
    X(x_handoff_ok, "the refiner from the base's latents at 0.8", refiner_,                    \
      (gp->latents = &handoff_view, gp->denoising_start = 0.8f), SDRT_OK, NULL)                \
    X(x_handoff_start_end, "denoising_start 0.8 at denoising_end 0.8", refiner_,               \
      (gp->latents = &handoff_view, gp->denoising_start = 0.8f, gp->denoising_end = 0.8f),     \
      SDRT_ERROR_INVALID_ARGUMENT, "denoising_start 0.8 must be below denoising_end")          \
    X(x_handoff_start_1, "denoising_start 1", refiner_,                                        \
      (gp->latents = &handoff_view, gp->denoising_start = 1.0f), SDRT_ERROR_INVALID_ARGUMENT,  \
      "denoising_start")                                                                       \
    X(x_handoff_no_step, "denoising_start 0.999 of 6 steps (no step left)", refiner_,          \
      (gp->latents = &handoff_view, gp->denoising_start = 0.999f),                             \
      SDRT_ERROR_INVALID_ARGUMENT, "denoising_start")                                          \
    X(x_latents_sd, "SD latents into the refiner", refiner_, set_latents(gp, "sd", 1, 4),      \
      SDRT_ERROR_INVALID_ARGUMENT, "latents: they are in sd's latent space")                   \
    X(x_latents_sd_base, "SD latents into the base", base_, set_latents(gp, "sd", 1, 4),       \
      SDRT_ERROR_INVALID_ARGUMENT, "latents: they are in sd's latent space")                   \
    X(x_latents_channels, "SDXL latents of 3 channels", refiner_,                              \
      set_latents(gp, "sdxl", 1, 3), SDRT_ERROR_INVALID_ARGUMENT, "latents: shape")            \
    X(x_latents_count, "SDXL latents of 2 images for count 1", refiner_,                       \
      set_latents(gp, "sdxl", 2, 4), SDRT_ERROR_INVALID_ARGUMENT, "latents: shape")            \
    X(x_latents_count_ok, "SDXL latents of 2 images for count 2", refiner_,                    \
      (set_latents(gp, "sdxl", 2, 4), gp->count = 2), SDRT_OK, NULL)                           \
    X(x_latents_size, "8x8 latents with height 96", refiner_,                                  \
      (set_latents(gp, "sdxl", 1, 4), gp->height = 96), SDRT_ERROR_INVALID_ARGUMENT,           \
      "differs from the latents'")                                                             \
    X(x_latents_inf, "SDXL latents holding +infinity", refiner_,                               \
      (set_latents(gp, "sdxl", 1, 4), lat[63] = (float)INFINITY),                              \
      SDRT_ERROR_INVALID_ARGUMENT, "not finite")                                               \
    X(x_latents_data_null, "SDXL latents->data NULL", refiner_,                                \
      (set_latents(gp, "sdxl", 1, 4), lat_view.data = NULL), SDRT_ERROR_INVALID_ARGUMENT,      \
      "params->latents->data")                                                                 \
    X(x_latents_init, "latents and init_image", refiner_,                                      \
      (set_latents(gp, "sdxl", 1, 4), set_init(gp)), SDRT_ERROR_INVALID_ARGUMENT,              \
      "latents or an init image")                                                              \
    X(x_output_latents, "the base to 0.8 with output_latents", base_,                          \
      (gp->denoising_end = 0.8f, gp->output_latents = 1), SDRT_OK, NULL)

typedef struct {
    const char *desc;
    sdrt_pipeline **pipeline;
    void (*apply)(sdrt_generate_params *gp);
    sdrt_status want;
    const char *needle;
} sdxl_case;

#define SDXL_FN(id, desc, pipe, stmt, want, needle)                                           \
    static void id(sdrt_generate_params *gp) { stmt; }
SDXL_CASES(SDXL_FN)
#define SDXL_ROW(id, desc, pipe, stmt, want, needle) {desc, &pipe, id, want, needle},
static const sdxl_case sdxl_cases[] = {SDXL_CASES(SDXL_ROW)};

static void run_sdxl_cases(void) {
    size_t i, k;
    for (i = 0; i < sizeof sdxl_cases / sizeof sdxl_cases[0]; i++) {
        const sdxl_case *c = &sdxl_cases[i];
        sdrt_generate_params gp;
        sdrt_images *out = IMAGES_SENTINEL;
        sdrt_status st;
        for (k = 0; k < sizeof lat / sizeof lat[0]; k++) {
            lat[k] = (float)(k % 5) * 0.5f - 1.0f;
        }
        base_params(&gp);
        c->apply(&gp);
        st = sdrt_pipeline_generate(*c->pipeline, &gp, &out);
        check_row("sdxl", c->desc, st, c->want, c->needle, out == IMAGES_SENTINEL);
        if (st != SDRT_OK || out == IMAGES_SENTINEL) {
            continue;
        }
        if (gp.output_latents) {
            sdrt_latents v;
            memset(&v, 0, sizeof v);
            v.struct_size = (uint32_t)sizeof v;
            check_value("  ...and returned no images but latents of 1x4x8x8 in sdxl's space",
                        sdrt_images_count(out) == 0 && sdrt_images_data(out, 0) == NULL &&
                            sdrt_images_width(out) == 64 && sdrt_images_height(out) == 64 &&
                            sdrt_images_latents(out, &v) == SDRT_OK && v.count == 1 &&
                            v.channels == 4 && v.height == 8 && v.width == 8 &&
                            v.data != NULL && v.family != NULL &&
                            strcmp(v.family, "sdxl") == 0 && isfinite(v.data[0]));
        } else {
            check_value("  ...and returned images, no latents",
                        sdrt_images_count(out) == gp.count && sdrt_images_data(out, 0) != NULL);
        }
        sdrt_images_free(out);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* sdrt_images_latents: NULL arguments, images without latents, a short struct_size; failing
 * calls leave *out alone. X(id, description, images, out's struct_size or a NULL out, status,
 * message word). */

static sdrt_images *plain_ = NULL;    /* images of a call without output_latents */
static sdrt_images *no_images = NULL; /* a NULL images argument */

#define LATENTS_CASES(X)                                                                       \
    X(l_images_null, "sdrt_images_latents(images NULL)", &no_images, sizeof(sdrt_latents), 0, \
      SDRT_ERROR_INVALID_ARGUMENT, "images")                                                   \
    X(l_out_null, "sdrt_images_latents(out NULL)", &handoff_, 0, 1,                            \
      SDRT_ERROR_INVALID_ARGUMENT, "out")                                                      \
    X(l_no_latents, "sdrt_images_latents(images from a call without output_latents)",          \
      &plain_, sizeof(sdrt_latents), 0, SDRT_ERROR_INVALID_ARGUMENT, "output_latents")        \
    X(l_struct0, "sdrt_images_latents(out->struct_size 0)", &handoff_, 0, 0,                   \
      SDRT_ERROR_INVALID_ARGUMENT, "out->struct_size")                                         \
    X(l_struct_short, "sdrt_images_latents(out->struct_size one field short)", &handoff_,      \
      offsetof(sdrt_latents, family), 0, SDRT_ERROR_INVALID_ARGUMENT, "out->struct_size")     \
    X(l_ok, "sdrt_images_latents(the base's latents)", &handoff_, sizeof(sdrt_latents), 0,     \
      SDRT_OK, NULL)                                                                           \
    X(l_grown, "sdrt_images_latents(out->struct_size 64 bytes larger: the rest untouched)",   \
      &handoff_, sizeof(sdrt_latents) + 64, 0, SDRT_OK, NULL)

typedef struct {
    const char *desc;
    sdrt_images **images;
    size_t struct_size;
    int null_out;
    sdrt_status want;
    const char *needle;
} latents_case;

#define LATENTS_ROW(id, desc, imgs, size, null_out, want, needle)                              \
    {desc, imgs, size, null_out, want, needle},
static const latents_case latents_cases[] = {LATENTS_CASES(LATENTS_ROW)};

static void run_latents_cases(void) {
    size_t i;
    for (i = 0; i < sizeof latents_cases / sizeof latents_cases[0]; i++) {
        const latents_case *c = &latents_cases[i];
        unsigned char buf[sizeof(sdrt_latents) + 64];
        unsigned char before[sizeof buf];
        sdrt_latents *out = (sdrt_latents *)(void *)buf;
        sdrt_status st;
        uint32_t size = (uint32_t)c->struct_size;
        memset(buf, 0xA5, sizeof buf);
        memcpy(buf, &size, sizeof size);
        memcpy(before, buf, sizeof buf);
        st = sdrt_images_latents(*c->images, c->null_out ? NULL : out);
        check_row("latents", c->desc, st, c->want, c->needle,
                  memcmp(buf, before, sizeof buf) == 0);
        if (st == SDRT_OK) {
            check_value("  ...the view of 1x4x8x8 sdxl latents, struct_size kept, nothing "
                        "written past the struct",
                        out->struct_size == size && out->count == 1 && out->channels == 4 &&
                            out->height == 8 && out->width == 8 &&
                            strcmp(out->family, "sdxl") == 0 &&
                            memcmp(buf + sizeof(sdrt_latents), before + sizeof(sdrt_latents),
                                   64) == 0);
            check_value("  ...the same pointers as every other call (owned by the images)",
                        out->data == handoff_view.data && out->family == handoff_view.family);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Ownership of the latents given to a call: borrowed for the call and copied when it starts.
 * A progress callback overwrites the caller's array in the middle of the call; the images
 * must be those of a call whose array stayed intact. */

static float scribble_data[4 * 8 * 8];
static int32_t scribble(void *user_data, uint32_t step, uint32_t total) {
    size_t k;
    (void)user_data;
    (void)step;
    (void)total;
    for (k = 0; k < sizeof scribble_data / sizeof scribble_data[0]; k++) {
        scribble_data[k] = 1e30f;
    }
    return 1;
}

static void check_latents_are_copied(void) {
    sdrt_generate_params gp;
    sdrt_latents v = handoff_view;
    sdrt_images *intact = NULL, *scribbled = NULL;
    sdrt_status a, b;
    memcpy(scribble_data, handoff_view.data, sizeof scribble_data);
    v.data = scribble_data;
    base_params(&gp);
    gp.latents = &v;
    gp.denoising_start = 0.8f;
    a = sdrt_pipeline_generate(refiner_, &gp, &intact);
    gp.progress = scribble;
    b = sdrt_pipeline_generate(refiner_, &gp, &scribbled);
    check_value("latents given to a call are copied when it starts (a callback overwriting "
                "them changes nothing)",
                a == SDRT_OK && b == SDRT_OK &&
                    memcmp(sdrt_images_data(intact, 0), sdrt_images_data(scribbled, 0),
                           64 * 64 * 3) == 0);
    sdrt_images_free(intact);
    sdrt_images_free(scribbled);
}

int main(int argc, char **argv) {
    sdrt_runtime_options ro;
    sdrt_generate_params gp;
    size_t i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 4) {
        fprintf(stderr, "usage: hostile_sdxl BASE_DIR REFINER_DIR ORT_LIBRARY\n");
        return 2;
    }
    for (i = 0; i < sizeof rgb; i++) {
        rgb[i] = (uint8_t)(i * 13);
    }
    sdrt_runtime_options_init(&ro);
    ro.ort_library_path = argv[3];
    if (sdrt_runtime_init(&ro) != SDRT_OK ||
        sdrt_pipeline_create(argv[1], NULL, &base_) != SDRT_OK ||
        sdrt_pipeline_create(argv[2], NULL, &refiner_) != SDRT_OK) {
        fprintf(stderr, "FAIL setup: %s\n", sdrt_last_error_message());
        return 1;
    }
    base_params(&gp);
    gp.denoising_end = 0.8f;
    gp.output_latents = 1;
    memset(&handoff_view, 0, sizeof handoff_view);
    handoff_view.struct_size = (uint32_t)sizeof handoff_view;
    if (sdrt_pipeline_generate(base_, &gp, &handoff_) != SDRT_OK ||
        sdrt_images_latents(handoff_, &handoff_view) != SDRT_OK) {
        fprintf(stderr, "FAIL the base's latents: %s\n", sdrt_last_error_message());
        return 1;
    }
    base_params(&gp);
    gp.steps = 1;
    if (sdrt_pipeline_generate(base_, &gp, &plain_) != SDRT_OK) {
        fprintf(stderr, "FAIL generate: %s\n", sdrt_last_error_message());
        return 1;
    }

    run_latents_cases();
    run_sdxl_cases();
    check_latents_are_copied();
    /* The base's images own the view and may be freed once the refiner's call returned: the
     * refiner's images (made from a copy) are unchanged after that free (and under ASan, a
     * refiner that kept pointing into them would be a use after free). */
    {
        static uint8_t snapshot[64 * 64 * 3];
        sdrt_images *refined = NULL;
        int ok;
        base_params(&gp);
        gp.latents = &handoff_view;
        gp.denoising_start = 0.8f;
        ok = sdrt_pipeline_generate(refiner_, &gp, &refined) == SDRT_OK &&
             sdrt_images_count(refined) == 1;
        if (ok) {
            memcpy(snapshot, sdrt_images_data(refined, 0), sizeof snapshot);
        }
        sdrt_images_free(handoff_);
        handoff_ = NULL;
        check_value("the refiner's images outlive the base's images they were made from",
                    ok && memcmp(snapshot, sdrt_images_data(refined, 0), sizeof snapshot) == 0);
        sdrt_images_free(refined);
    }

    sdrt_images_free(plain_);
    sdrt_pipeline_free(base_);
    sdrt_pipeline_free(refiner_);
    printf("%d hostile cases (and %d checks of their results), %d failed\n", cases, followups,
           failures);
    return failures == 0 ? 0 : 1;
}
