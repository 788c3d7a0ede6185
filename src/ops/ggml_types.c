/* Block sizes of the ggml tensor types (docs/quantization.md), shared by
 * the GGUF reader and the matrix kernels. */
#include "entropyinfer_gguf.h"

uint32_t ei_ggml_block_elements(uint32_t type) {
    switch (type) {
    case EI_GGML_F32:
    case EI_GGML_F16:
    case EI_GGML_BF16: return 1;
    case EI_GGML_Q4_0:
    case EI_GGML_Q4_1:
    case EI_GGML_Q5_0:
    case EI_GGML_Q5_1:
    case EI_GGML_Q8_0:
    case EI_GGML_Q8_1: return 32;
    case EI_GGML_Q2_K:
    case EI_GGML_Q3_K:
    case EI_GGML_Q4_K:
    case EI_GGML_Q5_K:
    case EI_GGML_Q6_K:
    case EI_GGML_Q8_K: return 256;
    default: return 0;
    }
}

uint32_t ei_ggml_block_bytes(uint32_t type) {
    switch (type) {
    case EI_GGML_F32: return 4;
    case EI_GGML_F16:
    case EI_GGML_BF16: return 2;
    case EI_GGML_Q4_0: return 18;  /* f16 d, 16 bytes of 4-bit values */
    case EI_GGML_Q4_1: return 20;  /* f16 d, f16 m, 16 bytes */
    case EI_GGML_Q5_0: return 22;  /* f16 d, 4 bytes of high bits, 16 bytes */
    case EI_GGML_Q5_1: return 24;  /* f16 d, f16 m, 4 + 16 bytes */
    case EI_GGML_Q8_0: return 34;  /* f16 d, 32 int8 */
    case EI_GGML_Q8_1: return 36;  /* f16 d, f16 s, 32 int8 */
    case EI_GGML_Q2_K: return 84;  /* 16 scales, 64 quants, f16 d, f16 dmin */
    case EI_GGML_Q3_K: return 110; /* 32 high-bit mask, 64 quants, 12 scales, f16 d */
    case EI_GGML_Q4_K: return 144; /* f16 d, f16 dmin, 12 scales, 128 quants */
    case EI_GGML_Q5_K: return 176; /* f16 d, f16 dmin, 12 scales, 32 high bits, 128 quants */
    case EI_GGML_Q6_K: return 210; /* 128 low bits, 64 high bits, 16 scales, f16 d */
    case EI_GGML_Q8_K: return 292; /* f32 d, 256 int8, 16 int16 sums */
    default: return 0;
    }
}
