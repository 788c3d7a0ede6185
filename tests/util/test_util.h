/* What every test shares: a validated context, seeded random inputs, host
 * conversions between f32 and the 16-bit storage types, and a tally. */
#ifndef EI_TEST_UTIL_H
#define EI_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "entropyinfer.h"

/* A poison word: a NaN in f32, and two NaNs in f16 and bf16. */
#define TU_POISON 0x7fc07fc0u

/* Counts a check; prints where it failed. */
#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (tu_check((cond), __FILE__, __LINE__)) {                                                                    \
        } else {                                                                                                       \
            fprintf(stderr, "  " __VA_ARGS__);                                                                         \
            fprintf(stderr, "\n");                                                                                     \
        }                                                                                                              \
    } while (0)

/* Like CHECK, for a call that must return `want`. */
#define CHECK_STATUS(call, want, ctx)                                                                                  \
    do {                                                                                                               \
        ei_status st_ = (call);                                                                                        \
        CHECK(st_ == (want), "%s returned %s, want %s: %s", #call, ei_status_name(st_), ei_status_name(want),          \
              ei_context_error(ctx));                                                                                  \
    } while (0)

int tu_check(int ok, const char *file, int line);

/* A context on the default device with validation (unless EI_VALIDATION=0);
 * exits the test on failure. tu_context_from starts from the caller's desc. */
ei_context *tu_context(void);
ei_context *tu_context_from(ei_context_desc desc);

/* Destroys ctx, then checks that no validation message came, up to and
 * including its destruction (leaked Vulkan objects), since the last check. */
void tu_release(ei_context *ctx);

/* Prints the tally; returns the process exit code. */
int tu_tally(void);

/* Checks failed so far. */
int tu_failures(void);

/* tu_release, then tu_tally. */
int tu_finish(ei_context *ctx);

/* Random numbers from a seed taken from EI_TEST_SEED or the clock (printed,
 * so a failure can be replayed). */
void tu_seed(void);
float tu_uniform(float lo, float hi);
uint32_t tu_below(uint32_t n);

/* Host conversions (round to nearest even). */
uint16_t tu_f32_to_f16(float f);
float tu_f16_to_f32(uint16_t h);
uint16_t tu_f32_to_bf16(float f);
float tu_bf16_to_f32(uint16_t b);

/* Random values in [-scale, scale), stored as dtype in `stored` (n
 * elements) and as the exact stored value in `values`. */
void tu_random_tensor(ei_dtype dtype, uint64_t n, float scale, void *stored, float *values);

/* n zeroed elements of `size` bytes; exits the test when memory runs out. */
void *tu_alloc(size_t n, size_t size);

/* Converts n stored elements of dtype to float. */
void tu_to_float(ei_dtype dtype, const void *stored, uint64_t n, float *out);

/* max|got - want| / max|want|; NaN in got gives +inf. */
double tu_rel_error(const float *got, const float *want, uint64_t n);

/* A buffer holding `bytes`, poisoned; exits the test on failure. */
ei_buffer *tu_buffer(ei_context *ctx, uint64_t bytes);

const char *tu_dtype_name(ei_dtype dtype);

#endif
