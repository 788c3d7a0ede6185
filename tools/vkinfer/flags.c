/* Command-line values shared by vkinfer and ei-eval. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tool.h"

int vk_to_long(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return 0;
    *out = v;
    return 1;
}

int vk_to_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* The constant of a method option; 1 when set, 0 when code is none, -1 for
 * a bad value (*why says what it takes). */
static int set(int code, const char *value, ei_entropy_config *m, const char **why) {
    long v;
    switch (code) {
    case VK_O_SEGMENT:
    case VK_O_BLOCK:
    case VK_O_THRESHOLD:
    case VK_O_BUDGET:
    case VK_O_DBUDGET:
    case VK_O_WINDOW: {
        *why = "a method size takes a positive integer";
        if (!vk_to_long(value, 1, 1L << 24, &v)) return -1;
        uint32_t *field = code == VK_O_SEGMENT     ? &m->segment_size
                          : code == VK_O_BLOCK     ? &m->block_size
                          : code == VK_O_THRESHOLD ? &m->threshold_len
                          : code == VK_O_BUDGET    ? &m->base_budget
                          : code == VK_O_DBUDGET   ? &m->decode_budget
                                                   : &m->window;
        *field = (uint32_t)v;
        return 1;
    }
    case VK_O_DGAP:
        *why = "--decode-gap takes -1 or a count of steps";
        if (!vk_to_long(value, -1, 1L << 20, &v)) return -1;
        m->decode_gap = (int32_t)v;
        return 1;
    case VK_O_ET:
    case VK_O_DELTA:
    case VK_O_ALPHA: {
        *why = "a method constant takes a finite number";
        float *field = code == VK_O_ET ? &m->e_t : code == VK_O_DELTA ? &m->delta_t : &m->alpha;
        return vk_to_float(value, field) ? 1 : -1;
    }
    default: return 0;
    }
}

int vk_method_flag(const char *tool, int code, const char *value, const char *typed, ei_entropy_config *m) {
    const char *why;
    int r = set(code, value, m, &why);
    if (r > 0) return 0;
    if (r < 0)
        fprintf(stderr, "%s: error: %s: '%s'\n", tool, why, value);
    else
        fprintf(stderr, "%s: error: unknown or incomplete option '%s' (see --help)\n", tool, typed);
    return -1;
}
