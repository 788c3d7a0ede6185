/* Reference dequantization of the ggml block types (docs/quantization.md),
 * written from ggml's layouts; checked against the gguf package's
 * dequantizers by tests/quant_oracle.py. */
#include <string.h>

#include "ref.h"
#include "util/test_util.h"

static float f16(const uint8_t *p) { return tu_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* Q4_K and Q5_K: 6-bit scale and min of sub-block j from the 12 bytes q. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void block(uint32_t type, const uint8_t *b, float *y) {
    switch (type) {
    case EI_GGML_Q4_0:
    case EI_GGML_Q4_1:
    case EI_GGML_Q5_0:
    case EI_GGML_Q5_1: {
        int has_min = type == EI_GGML_Q4_1 || type == EI_GGML_Q5_1, five = type == EI_GGML_Q5_0 || type == EI_GGML_Q5_1;
        float d = f16(b), m = has_min ? f16(b + 2) : 0;
        const uint8_t *p = b + (has_min ? 4 : 2);
        uint32_t qh = five ? (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24 : 0;
        const uint8_t *qs = p + (five ? 4 : 0);
        int offset = has_min ? 0 : five ? 16 : 8;
        for (int j = 0; j < 16; j++) {
            int x0 = (qs[j] & 0xF) | (int)((qh >> j) << 4 & 0x10);
            int x1 = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
            y[j] = (float)(x0 - offset) * d + m;
            y[j + 16] = (float)(x1 - offset) * d + m;
        }
        return;
    }
    case EI_GGML_Q8_0: {
        float d = f16(b);
        for (int j = 0; j < 32; j++)
            y[j] = (float)(int8_t)b[2 + j] * d;
        return;
    }
    case EI_GGML_Q4_K:
    case EI_GGML_Q5_K: {
        float d = f16(b), dmin = f16(b + 2);
        const uint8_t *scales = b + 4, *qh = b + 16, *ql = type == EI_GGML_Q5_K ? b + 48 : b + 16;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, mn;
            scale_min_k4(is, scales, &sc, &mn);
            float d1 = d * sc, m1 = dmin * mn;
            scale_min_k4(is + 1, scales, &sc, &mn);
            float d2 = d * sc, m2 = dmin * mn;
            for (int l = 0; l < 32; l++) {
                int hi1 = type == EI_GGML_Q5_K && (qh[l] & u1) ? 16 : 0,
                    hi2 = type == EI_GGML_Q5_K && (qh[l] & u2) ? 16 : 0;
                y[j + l] = d1 * (float)((ql[l] & 0xF) + hi1) - m1;
                y[j + l + 32] = d2 * (float)((ql[l] >> 4) + hi2) - m2;
            }
        }
        return;
    }
    case EI_GGML_Q6_K: {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = f16(b + 208);
        for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8)
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = (int)((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32;
                int q2 = (int)((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32;
                int q3 = (int)((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
                int q4 = (int)((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
                y[n + l] = d * sc[is] * (float)q1;
                y[n + l + 32] = d * sc[is + 2] * (float)q2;
                y[n + l + 64] = d * sc[is + 4] * (float)q3;
                y[n + l + 96] = d * sc[is + 6] * (float)q4;
            }
        return;
    }
    case EI_GGML_F16: y[0] = f16(b); return;
    case EI_GGML_BF16: y[0] = tu_bf16_to_f32((uint16_t)(b[0] | b[1] << 8)); return;
    default: memcpy(y, b, 4); return; /* F32 */
    }
}

int ref_dequantize(uint32_t type, const void *data, uint64_t n, float *out) {
    uint32_t be = ei_ggml_block_elements(type), bb = ei_ggml_block_bytes(type);
    int known = type == EI_GGML_F32 || type == EI_GGML_F16 || type == EI_GGML_BF16 || type == EI_GGML_Q4_0 ||
                type == EI_GGML_Q4_1 || type == EI_GGML_Q5_0 || type == EI_GGML_Q5_1 || type == EI_GGML_Q8_0 ||
                type == EI_GGML_Q4_K || type == EI_GGML_Q5_K || type == EI_GGML_Q6_K;
    if (!known || n % be) return 0;
    for (uint64_t i = 0; i < n / be; i++)
        block(type, (const uint8_t *)data + i * bb, out + i * be);
    return 1;
}
