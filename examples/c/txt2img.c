/*
 * txt2img: text-to-image, image-to-image and inpainting through the sdrt C API alone, the
 * same job as the Rust example, SDXL's fields and its base-to-refiner hand-off included.
 *
 *   txt2img MODEL_DIR OUTPUT_PREFIX [--prompt T] [--negative-prompt T] [--width W]
 *           [--height H] [--steps N] [--guidance G] [--seed S] [--count N]
 *           [--scheduler NAME] [--generator numpy|torch|torch-cuda] [--eta F]
 *           [--prediction-type epsilon|v_prediction|sample]
 *           [--timestep-spacing leading|trailing|linspace]
 *           [--provider auto|cpu|coreml|cuda] [--ort-library PATH]
 *           [--init-image PPM] [--mask PGM] [--strength F] [--rgba 0|1]
 *           [--guidance-rescale F] [--preview latent_rgb|taesd|full] [--preview-every N]
 *           [--prompt-2 T] [--negative-prompt-2 T] [--original-size WxH] [--crop X,Y]
 *           [--target-size WxH] [--negative-original-size WxH] [--negative-crop X,Y]
 *           [--negative-target-size WxH] [--aesthetic-score F]
 *           [--negative-aesthetic-score F] [--refiner DIR] [--denoising-end F]
 *           [--prompt-weighting none|a1111]
 *           [--controlnet NAME|PATH --control-image PPM [--control-scale S]
 *            [--control-start F] [--control-end F] [--guess-mode 0|1]]...
 *           [--lora PATH[:SCALE]]...
 *
 * --lora loads a LoRA (safetensors) into the pipeline with sdrt_lora_load and applies it at
 * SCALE (default 1) through sdrt_generate_params.loras; at most 8. With --refiner the LoRAs
 * apply to MODEL_DIR's call only (they are loaded into that pipeline).
 *
 * --controlnet adds a ControlNet (a name under MODEL_DIR/controlnet/, or a path with a '/'),
 * at most 4; the --control-* options and --guess-mode set the last one's sdrt_controlnet
 * fields (image: a binary PPM of the output size).
 *
 * The SDXL options set the sdrt_generate_params fields of the same names (sizes as width x
 * height, crops as x,y). With --refiner, MODEL_DIR runs the schedule up to --denoising-end
 * (default 0.8) with output_latents set, and the refiner DIR continues from those latents
 * (sdrt_images_latents, passed as latents with denoising_start) to the images: diffusers'
 * "ensemble of experts".
 *
 * --init-image takes a binary PPM (P6), --mask a binary PGM (P5). With --rgba 1 the init
 * image is handed to sdrt as RGBA8 rows padded to a larger stride (the layout image editors
 * keep), exercising sdrt_image_view's stride and alpha handling.
 *
 * Scheduler names: default (the model's), pndm, ddim, euler, euler-a, dpm++2m,
 * dpm++2m-karras, dpm++2m-sde, lms, heun, unipc, lcm, ddpm.
 *
 * Writes each image as binary PPM (P6) to OUTPUT_PREFIX-<i>.ppm, i = 0..count-1. ONNX Runtime
 * is found through --ort-library, $SDRT_ORT_LIBRARY, $ORT_DYLIB_PATH, the folder of libsdrt,
 * then the system. Exit status: 0 on success, 1 when sdrt fails, 2 on a usage error.
 *
 * Build (from the repository root, after `cargo build`):
 *   cc -std=c11 -Wall -Wextra -pedantic -Iinclude examples/c/txt2img.c \
 *      -Ltarget/debug -lsdrt -Wl,-rpath,"$PWD/target/debug" -o txt2img
 */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdrt.h"

static void usage(FILE *to) {
    fprintf(to,
            "usage: txt2img MODEL_DIR OUTPUT_PREFIX [--prompt T] [--negative-prompt T]\n"
            "               [--width W] [--height H] [--steps N] [--guidance G] [--seed S]\n"
            "               [--count N] [--scheduler NAME]\n"
            "               [--generator numpy|torch|torch-cuda]\n"
            "               [--eta F] [--prediction-type epsilon|v_prediction|sample]\n"
            "               [--timestep-spacing leading|trailing|linspace]\n"
            "               [--provider auto|cpu|coreml|cuda] [--ort-library PATH]\n"
            "               [--init-image PPM] [--mask PGM] [--strength F] [--rgba 0|1]\n"
            "               [--guidance-rescale F] [--preview latent_rgb|taesd|full]\n"
            "               [--preview-every N] [--prompt-2 T] [--negative-prompt-2 T]\n"
            "               [--original-size WxH] [--crop X,Y] [--target-size WxH]\n"
            "               [--negative-original-size WxH] [--negative-crop X,Y]\n"
            "               [--negative-target-size WxH] [--aesthetic-score F]\n"
            "               [--negative-aesthetic-score F] [--refiner DIR]\n"
            "               [--denoising-end F] [--prompt-weighting none|a1111]\n"
            "               [--controlnet NAME|PATH --control-image PPM [--control-scale S]\n"
            "                [--control-start F] [--control-end F] [--guess-mode 0|1]]...\n"
            "               [--lora PATH[:SCALE]]...\n");
}

/* Scheduler names in sdrt_scheduler order (SDRT_SCHEDULER_DEFAULT = 0, PNDM = 1, ...). */
static const char *const SCHEDULERS[] = {
    "default", "pndm", "ddim", "euler", "euler-a", "dpm++2m", "dpm++2m-karras",
    "dpm++2m-sde", "lms", "heun", "unipc", "lcm", "ddpm",
};

_Static_assert(sizeof SCHEDULERS / sizeof SCHEDULERS[0] == SDRT_SCHEDULER_DDPM + 1,
               "one name per sdrt_scheduler");

static int parse_scheduler(const char *text, uint32_t *out) {
    uint32_t i;
    for (i = 0; i < (uint32_t)(sizeof SCHEDULERS / sizeof SCHEDULERS[0]); i++) {
        if (strcmp(text, SCHEDULERS[i]) == 0) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

/* Parses a whole decimal number in [0, max]; returns 0 on failure. */
static int parse_u64(const char *text, uint64_t max, uint64_t *out) {
    char *end = NULL;
    unsigned long long v;
    if (text[0] == '\0' || text[0] == '-' || text[0] == '+') {
        return 0;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

static int parse_u32(const char *text, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(text, UINT32_MAX, &v)) {
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

static int parse_float(const char *text, float *out) {
    char *end = NULL;
    double v;
    errno = 0;
    v = strtod(text, &end);
    if (text[0] == '\0' || errno != 0 || *end != '\0' || !isfinite(v)) {
        return 0;
    }
    *out = (float)v;
    return 1;
}

/* Parses "<a><sep><b>" of two whole numbers (sizes "64x96", crops "8,4"). */
static int parse_pair(const char *text, char sep, uint32_t *a, uint32_t *b) {
    char first[32];
    const char *at = strchr(text, sep);
    size_t n = at != NULL ? (size_t)(at - text) : 0;
    if (at == NULL || n == 0 || n >= sizeof first) {
        return 0;
    }
    memcpy(first, text, n);
    first[n] = '\0';
    return parse_u32(first, a) && parse_u32(at + 1, b);
}

static double now_seconds(void) {
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC) {
        return 0.0;
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* sdrt_progress_callback: runs on the thread that called sdrt_pipeline_generate. */
static int32_t on_progress(void *user_data, uint32_t step, uint32_t total_steps) {
    const double *started = (const double *)user_data;
    fprintf(stderr, "step %u/%u (%.2fs)\n", step, total_steps, now_seconds() - *started);
    return 1; /* continue */
}

/* sdrt_step_callback: reports previews (valid only during the call). */
static int32_t on_step(void *user_data, const sdrt_step_info *info) {
    (void)user_data;
    if (info->preview != NULL) {
        fprintf(stderr, "preview %u/%u: %u image(s) of %ux%u (t=%.1f, %.3fs)\n", info->step,
                info->total_steps, info->preview_count, info->preview_width,
                info->preview_height, info->timestep, info->elapsed_seconds);
    }
    return 1;
}

/* Reads a binary PPM (P6, channels 3) or PGM (P5, channels 1) with maxval 255; the caller
 * frees *pixels. Returns 1 on success. */
static int read_pnm(const char *path, int channels, uint8_t **pixels, uint32_t *width,
                    uint32_t *height) {
    char magic[3] = {0};
    unsigned w = 0, h = 0, maxval = 0;
    size_t size;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "txt2img: cannot open %s: %s\n", path, strerror(errno));
        return 0;
    }
    if (fscanf(f, "%2s %u %u %u", magic, &w, &h, &maxval) != 4 ||
        strcmp(magic, channels == 3 ? "P6" : "P5") != 0 || maxval != 255 || w == 0 || h == 0 ||
        w > 65536 || h > 65536 || fgetc(f) == EOF) {
        fprintf(stderr, "txt2img: %s is not a binary %s with maxval 255\n", path,
                channels == 3 ? "PPM (P6)" : "PGM (P5)");
        fclose(f);
        return 0;
    }
    size = (size_t)w * h * (size_t)channels;
    *pixels = (uint8_t *)malloc(size);
    if (*pixels == NULL || fread(*pixels, 1, size, f) != size) {
        fprintf(stderr, "txt2img: %s: truncated\n", path);
        free(*pixels);
        *pixels = NULL;
        fclose(f);
        return 0;
    }
    fclose(f);
    *width = w;
    *height = h;
    return 1;
}

static int fail(const char *what, sdrt_status status) {
    fprintf(stderr, "txt2img: %s failed: %s: %s\n", what, sdrt_status_str(status),
            sdrt_last_error_message());
    return 1;
}

static int write_ppm(const char *path, const uint8_t *rgb, uint32_t width, uint32_t height) {
    size_t size = (size_t)width * (size_t)height * 3u;
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "txt2img: cannot open %s: %s\n", path, strerror(errno));
        return 0;
    }
    if (fprintf(f, "P6\n%u %u\n255\n", width, height) < 0 || fwrite(rgb, 1, size, f) != size) {
        fprintf(stderr, "txt2img: cannot write %s: %s\n", path, strerror(errno));
        fclose(f);
        return 0;
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "txt2img: cannot close %s: %s\n", path, strerror(errno));
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *model_dir;
    const char *prefix;
    const char *ort_library = NULL;
    sdrt_runtime_options runtime_options;
    sdrt_pipeline_options pipeline_options;
    sdrt_generate_params params;
    sdrt_pipeline_info info;
    sdrt_pipeline *pipeline = NULL;
    sdrt_images *images = NULL;
    sdrt_status status;
    double started;
    double loaded;
    uint32_t i;
    int arg;
    int exit_code = 0;
    const char *init_path = NULL;
    const char *mask_path = NULL;
    uint32_t rgba = 0;
    uint8_t *init_rgb = NULL;
    uint8_t *init_rgba = NULL;
    uint8_t *mask_pixels = NULL;
    const char *refiner_dir = NULL;
    sdrt_pipeline *refiner = NULL;
    sdrt_images *base_images = NULL;
    sdrt_latents handoff;
    sdrt_controlnet nets[4];
    const char *net_images[4] = {NULL, NULL, NULL, NULL};
    uint8_t *net_pixels[4] = {NULL, NULL, NULL, NULL};
    uint32_t net_count = 0;
    const char *lora_paths[8];
    sdrt_lora_weight loras[8];
    uint32_t lora_count = 0;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    model_dir = argv[1];
    prefix = argv[2];

    /* Defaults first: the struct may have grown since this program was written. */
    sdrt_pipeline_options_init(&pipeline_options);
    sdrt_generate_params_init(&params);

    for (arg = 3; arg < argc; arg++) {
        const char *name = argv[arg];
        const char *value;
        int ok = 1;
        if (arg + 1 >= argc) {
            fprintf(stderr, "txt2img: %s needs a value\n", name);
            usage(stderr);
            return 2;
        }
        value = argv[++arg];
        if (strcmp(name, "--lora") == 0) {
            /* PATH[:SCALE]: a trailing ":number" is the scale (argv's strings are ours to cut). */
            char *colon = strrchr(argv[arg], ':');
            if (lora_count == 8) {
                fprintf(stderr, "txt2img: at most 8 --lora\n");
                return 2;
            }
            loras[lora_count].scale = 1.0f;
            if (colon != NULL && parse_float(colon + 1, &loras[lora_count].scale)) {
                *colon = '\0';
            } else {
                loras[lora_count].scale = 1.0f;
            }
            lora_paths[lora_count++] = argv[arg];
        } else if (strcmp(name, "--controlnet") == 0) {
            if (net_count == 4) {
                fprintf(stderr, "txt2img: at most 4 --controlnet\n");
                return 2;
            }
            sdrt_controlnet_init(&nets[net_count]);
            nets[net_count++].model = value;
        } else if (strncmp(name, "--control-", 10) == 0 || strcmp(name, "--guess-mode") == 0) {
            sdrt_controlnet *c = &nets[net_count > 0 ? net_count - 1 : 0];
            if (net_count == 0) {
                fprintf(stderr, "txt2img: %s needs a --controlnet before it\n", name);
                return 2;
            }
            if (strcmp(name, "--control-image") == 0) {
                net_images[net_count - 1] = value;
            } else if (strcmp(name, "--control-scale") == 0) {
                c->scale = strtof(value, NULL);
            } else if (strcmp(name, "--control-start") == 0) {
                c->start = strtof(value, NULL);
            } else if (strcmp(name, "--control-end") == 0) {
                c->end = strtof(value, NULL);
            } else if (strcmp(name, "--guess-mode") == 0) {
                c->guess_mode = (uint32_t)strtoul(value, NULL, 10);
            } else {
                fprintf(stderr, "txt2img: unknown option %s\n", name);
                return 2;
            }
        } else if (strcmp(name, "--prompt") == 0) {
            params.prompt = value;
        } else if (strcmp(name, "--negative-prompt") == 0) {
            params.negative_prompt = value;
        } else if (strcmp(name, "--width") == 0) {
            ok = parse_u32(value, &params.width);
        } else if (strcmp(name, "--height") == 0) {
            ok = parse_u32(value, &params.height);
        } else if (strcmp(name, "--steps") == 0) {
            ok = parse_u32(value, &params.steps);
        } else if (strcmp(name, "--guidance") == 0) {
            ok = parse_float(value, &params.guidance);
        } else if (strcmp(name, "--seed") == 0) {
            ok = parse_u64(value, UINT64_MAX, &params.seed);
        } else if (strcmp(name, "--count") == 0) {
            ok = parse_u32(value, &params.count);
        } else if (strcmp(name, "--scheduler") == 0) {
            ok = parse_scheduler(value, &params.scheduler);
        } else if (strcmp(name, "--eta") == 0) {
            ok = parse_float(value, &params.eta);
        } else if (strcmp(name, "--prediction-type") == 0) {
            if (strcmp(value, "epsilon") == 0) {
                params.prediction_type = SDRT_PREDICTION_EPSILON;
            } else if (strcmp(value, "v_prediction") == 0) {
                params.prediction_type = SDRT_PREDICTION_V;
            } else if (strcmp(value, "sample") == 0) {
                params.prediction_type = SDRT_PREDICTION_SAMPLE;
            } else {
                ok = 0;
            }
        } else if (strcmp(name, "--timestep-spacing") == 0) {
            if (strcmp(value, "leading") == 0) {
                params.timestep_spacing = SDRT_TIMESTEP_SPACING_LEADING;
            } else if (strcmp(value, "trailing") == 0) {
                params.timestep_spacing = SDRT_TIMESTEP_SPACING_TRAILING;
            } else if (strcmp(value, "linspace") == 0) {
                params.timestep_spacing = SDRT_TIMESTEP_SPACING_LINSPACE;
            } else {
                ok = 0;
            }
        } else if (strcmp(name, "--generator") == 0) {
            if (strcmp(value, "numpy") == 0) {
                params.generator = SDRT_GENERATOR_NUMPY;
            } else if (strcmp(value, "torch") == 0) {
                params.generator = SDRT_GENERATOR_TORCH;
            } else if (strcmp(value, "torch-cuda") == 0) {
                params.generator = SDRT_GENERATOR_TORCH_CUDA;
            } else {
                ok = 0;
            }
        } else if (strcmp(name, "--provider") == 0) {
            if (strcmp(value, "auto") == 0) {
                pipeline_options.provider = SDRT_PROVIDER_AUTO;
            } else if (strcmp(value, "cpu") == 0) {
                pipeline_options.provider = SDRT_PROVIDER_CPU;
            } else if (strcmp(value, "coreml") == 0) {
                pipeline_options.provider = SDRT_PROVIDER_COREML;
            } else if (strcmp(value, "cuda") == 0) {
                pipeline_options.provider = SDRT_PROVIDER_CUDA;
            } else {
                ok = 0;
            }
        } else if (strcmp(name, "--ort-library") == 0) {
            ort_library = value;
        } else if (strcmp(name, "--init-image") == 0) {
            init_path = value;
        } else if (strcmp(name, "--mask") == 0) {
            mask_path = value;
        } else if (strcmp(name, "--strength") == 0) {
            ok = parse_float(value, &params.strength);
        } else if (strcmp(name, "--rgba") == 0) {
            ok = parse_u32(value, &rgba);
        } else if (strcmp(name, "--guidance-rescale") == 0) {
            ok = parse_float(value, &params.guidance_rescale);
        } else if (strcmp(name, "--prompt-2") == 0) {
            params.prompt_2 = value;
        } else if (strcmp(name, "--negative-prompt-2") == 0) {
            params.negative_prompt_2 = value;
        } else if (strcmp(name, "--original-size") == 0) {
            ok = parse_pair(value, 'x', &params.original_width, &params.original_height);
        } else if (strcmp(name, "--crop") == 0) {
            ok = parse_pair(value, ',', &params.crop_x, &params.crop_y);
        } else if (strcmp(name, "--target-size") == 0) {
            ok = parse_pair(value, 'x', &params.target_width, &params.target_height);
        } else if (strcmp(name, "--negative-original-size") == 0) {
            ok = parse_pair(value, 'x', &params.negative_original_width,
                            &params.negative_original_height);
        } else if (strcmp(name, "--negative-crop") == 0) {
            ok = parse_pair(value, ',', &params.negative_crop_x, &params.negative_crop_y);
        } else if (strcmp(name, "--negative-target-size") == 0) {
            ok = parse_pair(value, 'x', &params.negative_target_width,
                            &params.negative_target_height);
        } else if (strcmp(name, "--aesthetic-score") == 0) {
            ok = parse_float(value, &params.aesthetic_score);
        } else if (strcmp(name, "--negative-aesthetic-score") == 0) {
            ok = parse_float(value, &params.negative_aesthetic_score);
        } else if (strcmp(name, "--refiner") == 0) {
            refiner_dir = value;
        } else if (strcmp(name, "--denoising-end") == 0) {
            ok = parse_float(value, &params.denoising_end);
        } else if (strcmp(name, "--preview-every") == 0) {
            ok = parse_u32(value, &params.preview_every);
        } else if (strcmp(name, "--prompt-weighting") == 0) {
            if (strcmp(value, "none") == 0) {
                params.prompt_weighting = SDRT_PROMPT_WEIGHTING_NONE;
            } else if (strcmp(value, "a1111") == 0) {
                params.prompt_weighting = SDRT_PROMPT_WEIGHTING_A1111;
            } else {
                ok = 0;
            }
        } else if (strcmp(name, "--preview") == 0) {
            if (strcmp(value, "latent_rgb") == 0) {
                params.preview_kind = SDRT_PREVIEW_LATENT_RGB;
            } else if (strcmp(value, "taesd") == 0) {
                params.preview_kind = SDRT_PREVIEW_TAESD;
            } else if (strcmp(value, "full") == 0) {
                params.preview_kind = SDRT_PREVIEW_FULL;
            } else {
                ok = 0;
            }
        } else {
            fprintf(stderr, "txt2img: unknown option %s\n", name);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "txt2img: bad value for %s: '%s'\n", name, value);
            return 2;
        }
    }

    if (sdrt_abi_version() != SDRT_ABI_VERSION) {
        fprintf(stderr, "txt2img: libsdrt ABI %u, header ABI %u\n", sdrt_abi_version(),
                (unsigned)SDRT_ABI_VERSION);
        return 1;
    }

    /* Optional: sdrt_pipeline_create would initialize the runtime with defaults. */
    sdrt_runtime_options_init(&runtime_options);
    runtime_options.ort_library_path = ort_library;
    status = sdrt_runtime_init(&runtime_options);
    if (status != SDRT_OK) {
        return fail("loading ONNX Runtime", status);
    }

    started = now_seconds();
    status = sdrt_pipeline_create(model_dir, &pipeline_options, &pipeline);
    if (status != SDRT_OK) {
        return fail("loading the model", status);
    }
    loaded = now_seconds();
    sdrt_pipeline_info_init(&info);
    status = sdrt_pipeline_get_info(pipeline, &info);
    if (status != SDRT_OK) {
        sdrt_pipeline_free(pipeline);
        return fail("sdrt_pipeline_get_info", status);
    }
    fprintf(stderr, "sdrt %s, ONNX Runtime %s: loaded %s in %.2fs (native %ux%u, %s)\n",
            sdrt_version(), sdrt_runtime_ort_version(), model_dir, loaded - started,
            info.native_width, info.native_height, info.default_scheduler_class);

    if (init_path != NULL) {
        uint32_t w, h, y, x;
        if (!read_pnm(init_path, 3, &init_rgb, &w, &h)) {
            sdrt_pipeline_free(pipeline);
            return 1;
        }
        params.init_image.width = w;
        params.init_image.height = h;
        if (rgba) {
            /* RGBA rows with 16 bytes of padding: sdrt reads RGB and skips alpha and padding. */
            uint32_t stride = w * 4 + 16;
            init_rgba = (uint8_t *)calloc((size_t)stride * h, 1);
            if (init_rgba == NULL) {
                free(init_rgb);
                sdrt_pipeline_free(pipeline);
                return 1;
            }
            for (y = 0; y < h; y++) {
                for (x = 0; x < w; x++) {
                    memcpy(init_rgba + (size_t)y * stride + x * 4, init_rgb + ((size_t)y * w + x) * 3,
                           3);
                    init_rgba[(size_t)y * stride + x * 4 + 3] = (uint8_t)(x + y);
                }
            }
            params.init_image.data = init_rgba;
            params.init_image.stride = stride;
            params.init_image.format = SDRT_PIXEL_FORMAT_RGBA8;
        } else {
            params.init_image.data = init_rgb;
            params.init_image.format = SDRT_PIXEL_FORMAT_RGB8;
        }
    }
    if (mask_path != NULL) {
        if (!read_pnm(mask_path, 1, &mask_pixels, &params.mask.width, &params.mask.height)) {
            free(init_rgb);
            free(init_rgba);
            sdrt_pipeline_free(pipeline);
            return 1;
        }
        params.mask.data = mask_pixels;
        params.mask.format = SDRT_PIXEL_FORMAT_GRAY8;
    }

    for (i = 0; i < lora_count; i++) {
        /* The pipeline owns the LoRA: sdrt_pipeline_free frees it. */
        sdrt_lora *lora = NULL;
        status = sdrt_lora_load(pipeline, lora_paths[i], &lora);
        if (status != SDRT_OK) {
            free(init_rgb);
            free(init_rgba);
            free(mask_pixels);
            sdrt_pipeline_free(pipeline);
            return fail("loading a LoRA", status);
        }
        loras[i].lora = lora;
    }
    params.loras = lora_count > 0 ? loras : NULL;
    params.lora_count = lora_count;
    for (i = 0; i < net_count; i++) {
        /* The control images: RGB8, the output's size, borrowed by the call. */
        if (net_images[i] == NULL) {
            fprintf(stderr, "txt2img: --controlnet %s needs a --control-image\n", nets[i].model);
            exit_code = 2;
        } else if (!read_pnm(net_images[i], 3, &net_pixels[i], &nets[i].image.width,
                             &nets[i].image.height)) {
            exit_code = 1;
        }
        nets[i].image.data = net_pixels[i];
        nets[i].image.format = SDRT_PIXEL_FORMAT_RGB8;
    }
    if (exit_code != 0) {
        for (i = 0; i < net_count; i++) {
            free(net_pixels[i]);
        }
        free(init_rgb);
        free(init_rgba);
        free(mask_pixels);
        sdrt_pipeline_free(pipeline);
        return exit_code;
    }
    params.controlnets = net_count > 0 ? nets : NULL;
    params.controlnet_count = net_count;
    params.progress = on_progress;
    params.progress_user_data = &loaded;
    params.step_callback = on_step;
    if (refiner_dir != NULL) {
        /* The base runs to denoising_end and returns its latents instead of images. */
        if (params.denoising_end == 0.0f) {
            params.denoising_end = 0.8f;
        }
        params.output_latents = 1;
        status = sdrt_pipeline_create(refiner_dir, &pipeline_options, &refiner);
        if (status != SDRT_OK) {
            free(init_rgb);
            free(init_rgba);
            free(mask_pixels);
            sdrt_pipeline_free(pipeline);
            return fail("loading the refiner", status);
        }
    }
    status = sdrt_pipeline_generate(pipeline, &params, refiner != NULL ? &base_images : &images);
    /* sdrt copied the pixels: they may go now. */
    for (i = 0; i < net_count; i++) {
        free(net_pixels[i]);
    }
    params.controlnets = NULL;
    params.controlnet_count = 0;
    free(init_rgb);
    free(init_rgba);
    free(mask_pixels);
    if (status == SDRT_OK && refiner != NULL) {
        /* The hand-off: the view points into base_images, which must outlive the refiner's
         * call (sdrt copies the latents when the call starts). */
        handoff.struct_size = (uint32_t)sizeof handoff;
        status = sdrt_images_latents(base_images, &handoff);
        if (status == SDRT_OK) {
            fprintf(stderr, "base: latents %ux%ux%ux%u (%s), refining from %.2f\n",
                    handoff.count, handoff.channels, handoff.height, handoff.width,
                    handoff.family, (double)params.denoising_end);
            /* The latents replace the init image and mask (freed above). */
            memset(&params.init_image, 0, sizeof params.init_image);
            memset(&params.mask, 0, sizeof params.mask);
            params.latents = &handoff;
            params.denoising_start = params.denoising_end;
            params.denoising_end = 0.0f;
            params.output_latents = 0;
            /* The LoRA handles are the base pipeline's. */
            params.loras = NULL;
            params.lora_count = 0;
            status = sdrt_pipeline_generate(refiner, &params, &images);
        }
        sdrt_images_free(base_images);
        sdrt_pipeline_free(refiner);
    }
    if (status != SDRT_OK) {
        sdrt_pipeline_free(pipeline);
        return fail("generating", status);
    }
    fprintf(stderr, "generated %u image(s) of %ux%u in %.2fs\n", sdrt_images_count(images),
            sdrt_images_width(images), sdrt_images_height(images), now_seconds() - loaded);

    for (i = 0; i < sdrt_images_count(images); i++) {
        /* Room for the prefix, "-", up to 10 digits, ".ppm" and the NUL. */
        size_t size = strlen(prefix) + 16;
        char *path = (char *)malloc(size);
        if (path == NULL) {
            fprintf(stderr, "txt2img: out of memory\n");
            exit_code = 1;
            break;
        }
        snprintf(path, size, "%s-%u.ppm", prefix, i);
        if (sdrt_images_channels(images) != 3 ||
            !write_ppm(path, sdrt_images_data(images, i), sdrt_images_width(images),
                       sdrt_images_height(images))) {
            free(path);
            exit_code = 1;
            break;
        }
        printf("%s\n", path);
        if (sdrt_images_flagged(images, i)) {
            fprintf(stderr, "%s: flagged by the model's safety checker (blacked out)\n", path);
        }
        free(path);
    }

    sdrt_images_free(images);
    sdrt_pipeline_free(pipeline);
    return exit_code;
}
