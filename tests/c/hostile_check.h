/*
 * The row checks the hostile tables share (tests/c/hostile.c, tests/c/hostile_sdxl.c): one
 * row is one hostile call with its documented status and a word its message must contain;
 * a follow-up ("  ...") checks what a row's successful call returned.
 */
#ifndef SDRT_TEST_HOSTILE_CHECK_H
#define SDRT_TEST_HOSTILE_CHECK_H

#include <stdio.h>
#include <string.h>

#include "sdrt.h"

static int cases = 0;    /* rows: hostile calls */
static int followups = 0; /* checks of what a row's successful call returned */
static int failures = 0;

/* Checks one row: the status, and for failures a message containing `needle` (or any
 * non-empty message when NULL). */
static void check_row(const char *table, const char *desc, sdrt_status got, sdrt_status want,
                      const char *needle, int out_untouched) {
    const char *msg = got == SDRT_OK ? "" : sdrt_last_error_message();
    cases++;
    if (got != want) {
        failures++;
        fprintf(stderr, "FAIL %s: %s\n    returned %s (%s), expected %s\n", table, desc,
                sdrt_status_str(got), msg, sdrt_status_str(want));
        return;
    }
    if (want != SDRT_OK) {
        if (msg == NULL || msg[0] == '\0' || (needle != NULL && strstr(msg, needle) == NULL)) {
            failures++;
            fprintf(stderr, "FAIL %s: %s\n    message \"%s\" lacks \"%s\"\n", table, desc,
                    msg != NULL ? msg : "(null)", needle != NULL ? needle : "(any)");
            return;
        }
        if (!out_untouched) {
            failures++;
            fprintf(stderr, "FAIL %s: %s\n    the out-parameter was written on failure\n", table,
                    desc);
            return;
        }
    }
    printf("ok   %-8s %-28s %s%s%.150s\n", table, sdrt_status_str(got), desc,
           want != SDRT_OK ? ": " : "", msg);
}

static void check_value(const char *desc, int ok) {
    cases++;
    if (strncmp(desc, "  ...", 5) == 0) {
        cases--;
        followups++;
    }
    if (!ok) {
        failures++;
        fprintf(stderr, "FAIL value: %s\n", desc);
        return;
    }
    printf("ok   value    %s\n", desc);
}

/* Latents lent through params->latents: 8x8 cells (a 64x64 image), up to 2 images, of
   `family` with `channels` channels. The caller sets denoising_start. */
static float lat[2 * 4 * 8 * 8];
static sdrt_latents lat_view;
static void lend_latents(sdrt_generate_params *gp, const char *family, uint32_t count,
                         uint32_t channels) {
    memset(&lat_view, 0, sizeof lat_view);
    lat_view.struct_size = (uint32_t)sizeof lat_view;
    lat_view.count = count;
    lat_view.channels = channels;
    lat_view.height = 8;
    lat_view.width = 8;
    lat_view.data = lat;
    lat_view.family = family;
    gp->latents = &lat_view;
}

#endif /* SDRT_TEST_HOSTILE_CHECK_H */
