/* Reference for ei_pool_minmax. */
#include "ref.h"

void ref_pool_minmax(const float *x, uint32_t rows, uint32_t heads, uint32_t dim, uint32_t group, float *out_max,
                     float *out_min) {
    uint64_t row = (uint64_t)heads * dim;
    uint32_t groups = (rows + group - 1) / group;
    for (uint32_t g = 0; g < groups; g++) {
        uint32_t end = (g + 1) * group < rows ? (g + 1) * group : rows;
        for (uint64_t i = 0; i < row; i++) {
            float hi = x[(uint64_t)g * group * row + i], lo = hi;
            for (uint32_t r = g * group + 1; r < end; r++) {
                float v = x[(uint64_t)r * row + i];
                if (v > hi) hi = v;
                if (v < lo) lo = v;
            }
            out_max[g * row + i] = hi;
            out_min[g * row + i] = lo;
        }
    }
}
