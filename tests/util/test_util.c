#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int passed, failed;
static uint64_t rng_state;
/* Validation messages of the test's contexts not yet checked by tu_release. */
static uint32_t validation_messages;

static void on_validation(void *user, int error, const char *message) {
    (void)user;
    validation_messages++;
    fprintf(stderr, "validation %s: %s\n", error ? "error" : "warning", message);
}

int tu_check(int ok, const char *file, int line) {
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL %s:%d\n", file, line);
    }
    return ok;
}

ei_context *tu_context(void) { return tu_context_from(ei_context_desc_default()); }

ei_context *tu_context_from(ei_context_desc desc) {
    const char *v = getenv("EI_VALIDATION");
    desc.enable_validation = !(v && strcmp(v, "0") == 0);
    desc.on_validation = on_validation;
    char error[512] = "";
    desc.error = error;
    desc.error_size = sizeof error;
    ei_context *ctx = NULL;
    ei_status st = ei_context_create(&desc, &ctx);
    if (st != EI_OK) {
        fprintf(stderr, "cannot create a context: %s: %s\n", ei_status_name(st), error);
        exit(1);
    }
    printf("device: %s (validation %s)\n", ei_context_facts(ctx)->name, desc.enable_validation ? "on" : "off");
    return ctx;
}

void tu_release(ei_context *ctx) {
    ei_context_destroy(ctx); /* the layer reports leaked objects here */
    CHECK(validation_messages == 0, "%u validation messages", validation_messages);
    validation_messages = 0;
}

int tu_tally(void) {
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

int tu_failures(void) { return failed; }

int tu_finish(ei_context *ctx) {
    tu_release(ctx);
    return tu_tally();
}

void tu_seed(void) {
    const char *s = getenv("EI_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
    printf("seed: %llu (EI_TEST_SEED replays it)\n", (unsigned long long)seed);
    rng_state = seed;
}

static uint64_t next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float tu_uniform(float lo, float hi) { return lo + (hi - lo) * (float)((next() >> 40) * (1.0 / 16777216.0)); }

uint32_t tu_below(uint32_t n) { return (uint32_t)(next() % n); }

uint16_t tu_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffffu;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float tu_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
    float v;
    if (exp == 0)
        v = ldexpf((float)mant, -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexpf((float)(mant | 0x400u), (int)exp - 25);
    return sign ? -v : v;
}

uint16_t tu_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float tu_bf16_to_f32(uint16_t b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

void tu_random_tensor(ei_dtype dtype, uint64_t n, float scale, void *stored, float *values) {
    for (uint64_t i = 0; i < n; i++) {
        float v = tu_uniform(-scale, scale);
        if (dtype == EI_F32) {
            ((float *)stored)[i] = v;
        } else if (dtype == EI_F16) {
            uint16_t h = tu_f32_to_f16(v);
            ((uint16_t *)stored)[i] = h;
            v = tu_f16_to_f32(h);
        } else {
            uint16_t b = tu_f32_to_bf16(v);
            ((uint16_t *)stored)[i] = b;
            v = tu_bf16_to_f32(b);
        }
        values[i] = v;
    }
}

void *tu_alloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    return p;
}

void tu_to_float(ei_dtype dtype, const void *stored, uint64_t n, float *out) {
    for (uint64_t i = 0; i < n; i++) {
        if (dtype == EI_F32)
            out[i] = ((const float *)stored)[i];
        else if (dtype == EI_F16)
            out[i] = tu_f16_to_f32(((const uint16_t *)stored)[i]);
        else
            out[i] = tu_bf16_to_f32(((const uint16_t *)stored)[i]);
    }
}

double tu_rel_error(const float *got, const float *want, uint64_t n) {
    double err = 0, ref = 0;
    for (uint64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= err)) err = isnan(e) ? INFINITY : e;
        if (fabs(want[i]) > ref) ref = fabs(want[i]);
    }
    return ref > 0 ? err / ref : err;
}

ei_buffer *tu_buffer(ei_context *ctx, uint64_t bytes) {
    ei_buffer *b = NULL;
    uint64_t padded = (bytes + 3) / 4 * 4;
    ei_status st = ei_buffer_create(ctx, padded, &b);
    if (st == EI_OK) st = ei_buffer_fill(b, 0, padded, TU_POISON);
    if (st != EI_OK) {
        fprintf(stderr, "cannot make a buffer of %llu bytes: %s: %s\n", (unsigned long long)bytes, ei_status_name(st),
                ei_context_error(ctx));
        exit(1);
    }
    return b;
}

const char *tu_dtype_name(ei_dtype dtype) { return dtype == EI_F32 ? "f32" : dtype == EI_F16 ? "f16" : "bf16"; }
