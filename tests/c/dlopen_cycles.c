/*
 * libsdrt loaded and unloaded the way plug-in hosts do it: dlopen(RTLD_LOCAL), create,
 * generate, free, dlclose, and again; never linked against libsdrt. Built and run by
 * tests/lifecycle.rs, one sequence per process:
 *
 *   dlopen_cycles reload LIBSDRT MODEL_DIR ORT_LIBRARY
 *       two cycles with ONNX Runtime logging at SDRT_LOG_DEBUG. Between them the address
 *       range libsdrt occupied is mapped by this program when the loader freed it, so a
 *       library that really unloaded comes back at another address.
 *   dlopen_cycles copies LIBSDRT LIBSDRT_COPY MODEL_DIR ORT_LIBRARY
 *       two copies of libsdrt at two paths (two images, two addresses) in one process, both
 *       generating; the first is shut down and closed (its range mapped over when freed), the
 *       second keeps creating pipelines and generating with logging at SDRT_LOG_DEBUG.
 *   dlopen_cycles explicit-path LIBSDRT MISSING NOT_A_LIBRARY
 *       run with $SDRT_ORT_LIBRARY naming a usable ONNX Runtime: an explicit
 *       ort_library_path that is missing, or not a library, is the error (the message names
 *       it), and nothing else is loaded instead; without a path the search finds the library.
 *   dlopen_cycles cycles N LIBSDRT MODEL_DIR ORT_LIBRARY NOISY_DECODER
 *       N cycles at the default log level, each loading a graph ONNX Runtime warns about
 *       (NOISY_DECODER: a TAESD decoder with an initializer no node uses) and generating
 *       with an over-long prompt (so sdrt warns too); after each cycle prints
 *       "CYCLE i HEAP bytes RSS kib" (HEAP: mallinfo2's uordblks + hblkhd, the bytes malloc
 *       has handed out and not had back).
 *
 * Prints one line per check; exits 0 when every check passed. A crash is the failure this
 * program exists to catch: the test runs it in a child process and reports the signal.
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sdrt.h"

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        checks++;                                                                            \
        if (!(cond)) {                                                                       \
            failures++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
        }                                                                                    \
    } while (0)

/* ---------------------------------------------------------------------------------------- */
/* Log sinks: the callbacks live in this program, so they outlive every libsdrt. */

typedef struct {
    const char *name;
    pthread_mutex_t lock;
    unsigned calls;
    unsigned onnxruntime; /* messages from ONNX Runtime ("onnxruntime [...]") */
    unsigned truncations;
} log_sink;

static int verbose = 0;

static void on_log(void *user_data, uint32_t level, const char *message) {
    log_sink *sink = (log_sink *)user_data;
    pthread_mutex_lock(&sink->lock);
    sink->calls++;
    if (strncmp(message, "onnxruntime", 11) == 0) {
        sink->onnxruntime++;
    }
    if (strstr(message, "truncated") != NULL) {
        sink->truncations++;
    }
    pthread_mutex_unlock(&sink->lock);
    if (verbose) {
        fprintf(stderr, "[%s %u] %s\n", sink->name, level, message);
    }
}

static unsigned sink_get(log_sink *sink, const unsigned *field) {
    unsigned v;
    pthread_mutex_lock(&sink->lock);
    v = *field;
    pthread_mutex_unlock(&sink->lock);
    return v;
}

#define SINK(name) {name, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0}

/* ---------------------------------------------------------------------------------------- */
/* One loaded libsdrt: its handle and the functions this program calls, found with dlsym. */

typedef struct {
    const char *path;
    void *handle;
    uintptr_t base; /* dladdr's dli_fbase */
    size_t extent;  /* bytes from base to the end of its last mapping */
    void (*runtime_options_init)(sdrt_runtime_options *, uint32_t);
    sdrt_status (*runtime_init)(const sdrt_runtime_options *);
    void (*runtime_shutdown)(void);
    void (*pipeline_options_init)(sdrt_pipeline_options *, uint32_t);
    sdrt_status (*pipeline_create)(const char *, const sdrt_pipeline_options *,
                                   sdrt_pipeline **);
    void (*pipeline_free)(sdrt_pipeline *);
    void (*generate_params_init)(sdrt_generate_params *, uint32_t);
    sdrt_status (*pipeline_generate)(sdrt_pipeline *, const sdrt_generate_params *,
                                     sdrt_images **);
    uint32_t (*images_count)(const sdrt_images *);
    void (*images_free)(sdrt_images *);
    const char *(*last_error_message)(void);
    const char *(*runtime_ort_version)(void);
} lib;

/* POSIX's way to store a dlsym result in a function pointer without a cast ISO C forbids. */
#define SYM(l, field, name)                                                                  \
    do {                                                                                     \
        *(void **)(&(l)->field) = dlsym((l)->handle, name);                                  \
        if ((l)->field == NULL) {                                                            \
            fprintf(stderr, "FAIL %s lacks %s\n", (l)->path, name);                          \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* The end of the last mapping of the file that holds `base`, from /proc/self/maps. */
static size_t mapped_extent(const char *path, uintptr_t base) {
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    char *real = realpath(path, NULL);
    uintptr_t end = base;
    if (maps == NULL || real == NULL) {
        free(real);
        if (maps != NULL) {
            fclose(maps);
        }
        return 0;
    }
    while (fgets(line, sizeof line, maps) != NULL) {
        unsigned long lo, hi;
        char *file = strchr(line, '/');
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || file == NULL) {
            continue;
        }
        file[strcspn(file, "\n")] = '\0';
        if (strcmp(file, real) == 0 && lo >= base && hi > end) {
            end = hi;
        }
    }
    fclose(maps);
    free(real);
    return end - base;
}

static void lib_open(lib *l, const char *path) {
    Dl_info info;
    memset(l, 0, sizeof *l);
    l->path = path;
    l->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (l->handle == NULL) {
        fprintf(stderr, "FAIL dlopen %s: %s\n", path, dlerror());
        exit(1);
    }
    SYM(l, runtime_options_init, "sdrt_runtime_options_init_sized");
    SYM(l, runtime_init, "sdrt_runtime_init");
    SYM(l, runtime_shutdown, "sdrt_runtime_shutdown");
    SYM(l, pipeline_options_init, "sdrt_pipeline_options_init_sized");
    SYM(l, pipeline_create, "sdrt_pipeline_create");
    SYM(l, pipeline_free, "sdrt_pipeline_free");
    SYM(l, generate_params_init, "sdrt_generate_params_init_sized");
    SYM(l, pipeline_generate, "sdrt_pipeline_generate");
    SYM(l, images_count, "sdrt_images_count");
    SYM(l, images_free, "sdrt_images_free");
    SYM(l, last_error_message, "sdrt_last_error_message");
    SYM(l, runtime_ort_version, "sdrt_runtime_ort_version");
    CHECK(dladdr(*(void **)(&l->runtime_init), &info) != 0);
    l->base = (uintptr_t)info.dli_fbase;
    l->extent = mapped_extent(path, l->base);
    printf("ok   loaded %s at %#lx (%zu bytes mapped)\n", path, (unsigned long)l->base,
           l->extent);
}

/* Whether `path` is still loaded (RTLD_NOLOAD finds only a loaded library). */
static int still_loaded(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (h == NULL) {
        return 0;
    }
    dlclose(h);
    return 1;
}

/* Closes `l`. When the loader unmapped it, maps its old range so the next dlopen of any
 * libsdrt cannot land there (and calls into the stale range fault instead of running
 * whatever the next library put there). Returns whether it stayed loaded. */
static int lib_close(lib *l, void **reserved, size_t *reserved_len) {
    int pinned;
    CHECK(dlclose(l->handle) == 0);
    pinned = still_loaded(l->path);
    *reserved = NULL;
    *reserved_len = 0;
    if (!pinned && l->extent > 0) {
        void *p = mmap((void *)l->base, l->extent, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == (void *)l->base) {
            *reserved = p;
            *reserved_len = l->extent;
        } else if (p != MAP_FAILED) {
            munmap(p, l->extent);
        }
    }
    printf("ok   closed %s: %s%s\n", l->path, pinned ? "still loaded (pinned)" : "unloaded",
           *reserved != NULL ? ", its range reserved" : "");
    return pinned;
}

/* ---------------------------------------------------------------------------------------- */

static const char *model_dir;
static const char *ort_library;

/* Longer than CLIP's 75 tokens: sdrt logs a truncation warning for it. */
static const char *long_prompt =
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty one two three four five six seven "
    "eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen "
    "nineteen twenty one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty one two three "
    "four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";

static void init_runtime(lib *l, uint32_t level, log_sink *sink) {
    sdrt_runtime_options ro;
    sdrt_status st;
    l->runtime_options_init(&ro, (uint32_t)sizeof ro);
    ro.ort_library_path = ort_library;
    ro.log_level = level;
    ro.log_callback = on_log;
    ro.log_user_data = sink;
    st = l->runtime_init(&ro);
    if (st != SDRT_OK) {
        fprintf(stderr, "FAIL sdrt_runtime_init: %s\n", l->last_error_message());
    }
    CHECK(st == SDRT_OK);
}

static sdrt_pipeline *create(lib *l, const sdrt_pipeline_options *po) {
    sdrt_pipeline *p = NULL;
    sdrt_status st = l->pipeline_create(model_dir, po, &p);
    if (st != SDRT_OK) {
        fprintf(stderr, "FAIL sdrt_pipeline_create: %s\n", l->last_error_message());
    }
    CHECK(st == SDRT_OK && p != NULL);
    return p;
}

static void generate(lib *l, sdrt_pipeline *p, const char *prompt) {
    sdrt_generate_params gp;
    sdrt_images *img = NULL;
    sdrt_status st;
    if (p == NULL) {
        return;
    }
    l->generate_params_init(&gp, (uint32_t)sizeof gp);
    gp.prompt = prompt;
    gp.steps = 2;
    gp.seed = 7;
    st = l->pipeline_generate(p, &gp, &img);
    if (st != SDRT_OK) {
        fprintf(stderr, "FAIL sdrt_pipeline_generate: %s\n", l->last_error_message());
    }
    CHECK(st == SDRT_OK && img != NULL && l->images_count(img) == 1);
    l->images_free(img);
}

/* A graph ONNX Runtime complains about at the default level: the pipeline's TAESD preview
 * decoder with an initializer no node uses (ONNX Runtime warns while loading it, which happens
 * during the first generate call that asks for TAESD previews). */
static void noisy_graph(lib *l, const char *noisy_decoder) {
    sdrt_pipeline_options po;
    sdrt_pipeline *p = NULL;
    sdrt_generate_params gp;
    sdrt_images *img = NULL;
    sdrt_status st;
    l->pipeline_options_init(&po, (uint32_t)sizeof po);
    po.preview_decoder_path = noisy_decoder;
    /* ONNX Runtime warns about the unused initializer while it optimizes the graph: a cached
     * graph (already optimized) would not say it again. */
    po.graph_cache_dir = "";
    p = create(l, &po);
    if (p == NULL) {
        return;
    }
    l->generate_params_init(&gp, (uint32_t)sizeof gp);
    gp.prompt = long_prompt;
    gp.steps = 1;
    gp.preview_kind = SDRT_PREVIEW_TAESD;
    st = l->pipeline_generate(p, &gp, &img);
    if (st != SDRT_OK) {
        fprintf(stderr, "FAIL generate with TAESD previews: %s\n", l->last_error_message());
    }
    CHECK(st == SDRT_OK);
    l->images_free(img);
    l->pipeline_free(p);
}

/* ---------------------------------------------------------------------------------------- */

static int run_reload(const char *path) {
    static log_sink first = SINK("first"), second = SINK("second");
    lib a, b;
    void *reserved;
    size_t reserved_len;
    sdrt_pipeline *p;
    int pinned;

    lib_open(&a, path);
    init_runtime(&a, SDRT_LOG_DEBUG, &first);
    p = create(&a, NULL);
    generate(&a, p, "a lighthouse");
    a.pipeline_free(p);
    CHECK(sink_get(&first, &first.onnxruntime) > 0);
    a.runtime_shutdown();
    pinned = lib_close(&a, &reserved, &reserved_len);

    /* The second load: ONNX Runtime (still loaded) logs at verbose level during init. */
    lib_open(&b, path);
    if (pinned) {
        CHECK(b.base == a.base);
    } else if (reserved != NULL) {
        CHECK(b.base != a.base);
    }
    init_runtime(&b, SDRT_LOG_DEBUG, &second);
    p = create(&b, NULL);
    generate(&b, p, long_prompt);
    b.pipeline_free(p);
    CHECK(sink_get(&second, &second.onnxruntime) > 0);
    CHECK(sink_get(&second, &second.truncations) >= 1);
    b.runtime_shutdown();
    lib_close(&b, &reserved, &reserved_len);
    printf("PINNED %d\n", pinned);
    printf("first sink: %u messages (%u from ONNX Runtime); second: %u (%u)\n",
           sink_get(&first, &first.calls), sink_get(&first, &first.onnxruntime),
           sink_get(&second, &second.calls), sink_get(&second, &second.onnxruntime));
    return 0;
}

static int run_copies(const char *path, const char *copy) {
    static log_sink sa = SINK("a"), sb = SINK("b");
    lib a, b;
    void *reserved;
    size_t reserved_len;
    sdrt_pipeline *pa, *pb;
    unsigned before, a_before, b_before;

    lib_open(&a, path);
    init_runtime(&a, SDRT_LOG_DEBUG, &sa);
    pa = create(&a, NULL);
    lib_open(&b, copy);
    CHECK(b.base != a.base);
    init_runtime(&b, SDRT_LOG_DEBUG, &sb);
    /* ONNX Runtime's one environment logs through the copy that created it (a); what it logs
       on the thread of b's calls (its arenas' messages, at verbose level) is routed to b. */
    a_before = sink_get(&sa, &sa.calls);
    b_before = sink_get(&sb, &sb.onnxruntime);
    pb = create(&b, NULL);
    generate(&b, pb, "a lighthouse");
    printf("during b's calls: a got %u messages, b %u from ONNX Runtime\n",
           sink_get(&sa, &sa.calls) - a_before, sink_get(&sb, &sb.onnxruntime) - b_before);
    CHECK(sink_get(&sa, &sa.calls) == a_before);
    CHECK(sink_get(&sb, &sb.onnxruntime) > b_before);
    /* And the other way round: a's calls reach a only. */
    b_before = sink_get(&sb, &sb.calls);
    generate(&a, pa, "a lighthouse");
    CHECK(sink_get(&sb, &sb.calls) == b_before);
    a.pipeline_free(pa);
    a.runtime_shutdown();
    lib_close(&a, &reserved, &reserved_len);

    /* The second copy carries on alone, with ONNX Runtime logging at verbose level. */
    before = sink_get(&sb, &sb.onnxruntime);
    generate(&b, pb, long_prompt);
    b.pipeline_free(pb);
    pb = create(&b, NULL);
    generate(&b, pb, long_prompt);
    b.pipeline_free(pb);
    CHECK(sink_get(&sb, &sb.onnxruntime) > before);
    CHECK(sink_get(&sb, &sb.truncations) >= 2);
    b.runtime_shutdown();
    lib_close(&b, &reserved, &reserved_len);
    printf("sink a: %u messages (%u from ONNX Runtime); b: %u (%u)\n",
           sink_get(&sa, &sa.calls), sink_get(&sa, &sa.onnxruntime), sink_get(&sb, &sb.calls),
           sink_get(&sb, &sb.onnxruntime));
    return 0;
}

static int run_explicit_path(const char *path, const char *missing, const char *not_a_library) {
    static log_sink sink = SINK("explicit");
    const char *bad[2];
    sdrt_runtime_options ro;
    sdrt_status st;
    lib l;
    int i;
    bad[0] = missing;
    bad[1] = not_a_library;
    lib_open(&l, path);
    for (i = 0; i < 2; i++) {
        const char *msg;
        l.runtime_options_init(&ro, (uint32_t)sizeof ro);
        ro.ort_library_path = bad[i];
        ro.log_callback = on_log;
        ro.log_user_data = &sink;
        st = l.runtime_init(&ro);
        msg = l.last_error_message();
        CHECK(st == SDRT_ERROR_RUNTIME_UNAVAILABLE);
        CHECK(strstr(msg, bad[i]) != NULL);
        CHECK(strstr(msg, "SDRT_ORT_LIBRARY") == NULL);
        CHECK(l.runtime_ort_version() == NULL);
        printf("MESSAGE %s\n", msg);
    }
    /* The library the search would have found was there all along. */
    l.runtime_options_init(&ro, (uint32_t)sizeof ro);
    st = l.runtime_init(&ro);
    CHECK(st == SDRT_OK && l.runtime_ort_version() != NULL);
    l.runtime_shutdown();
    return 0;
}

static size_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static long rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int run_cycles(int n, const char *path, const char *noisy_decoder) {
    static log_sink sink = SINK("cycles");
    int i;
    for (i = 1; i <= n; i++) {
        lib l;
        void *reserved;
        size_t reserved_len;
        sdrt_pipeline *p;
        lib_open(&l, path);
        init_runtime(&l, SDRT_LOG_WARN, &sink);
        p = create(&l, NULL);
        generate(&l, p, long_prompt);
        l.pipeline_free(p);
        noisy_graph(&l, noisy_decoder);
        l.runtime_shutdown();
        lib_close(&l, &reserved, &reserved_len);
        if (reserved != NULL) {
            munmap(reserved, reserved_len);
        }
        malloc_trim(0);
        printf("CYCLE %d HEAP %zu RSS %ld\n", i, heap_in_use(), rss_kib());
    }
    printf("sink: %u messages (%u from ONNX Runtime, %u truncations)\n",
           sink_get(&sink, &sink.calls), sink_get(&sink, &sink.onnxruntime),
           sink_get(&sink, &sink.truncations));
    /* Every cycle: sdrt's warning about the prompt, ONNX Runtime's about the graph. */
    CHECK(sink_get(&sink, &sink.truncations) >= (unsigned)n);
    CHECK(sink_get(&sink, &sink.onnxruntime) >= (unsigned)n);
    return 0;
}

int main(int argc, char **argv) {
    int rc = 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    verbose = getenv("SDRT_TEST_VERBOSE") != NULL;
    if (argc == 5 && strcmp(argv[1], "reload") == 0) {
        model_dir = argv[3];
        ort_library = argv[4];
        rc = run_reload(argv[2]);
    } else if (argc == 6 && strcmp(argv[1], "copies") == 0) {
        model_dir = argv[4];
        ort_library = argv[5];
        rc = run_copies(argv[2], argv[3]);
    } else if (argc == 5 && strcmp(argv[1], "explicit-path") == 0) {
        rc = run_explicit_path(argv[2], argv[3], argv[4]);
    } else if (argc == 7 && strcmp(argv[1], "cycles") == 0) {
        model_dir = argv[4];
        ort_library = argv[5];
        rc = run_cycles(atoi(argv[2]), argv[3], argv[6]);
    } else {
        fprintf(stderr, "usage: dlopen_cycles reload LIBSDRT MODEL_DIR ORT_LIBRARY\n"
                        "       dlopen_cycles copies LIBSDRT LIBSDRT_COPY MODEL_DIR ORT_LIBRARY\n"
                        "       dlopen_cycles explicit-path LIBSDRT MISSING NOT_A_LIBRARY\n"
                        "       dlopen_cycles cycles N LIBSDRT MODEL_DIR ORT_LIBRARY "
                        "NOISY_DECODER\n");
        return 2;
    }
    printf("%d checks, %d failed\n", checks, failures);
    return (rc != 0 || failures != 0) ? 1 : 0;
}
