/* CPU reference of every GPU operation: plain C, double accumulation where
 * anything accumulates. Inputs are the stored values converted to float. */
#ifndef EI_REF_H
#define EI_REF_H

#include <stdint.h>

/* pool.c: max/min over groups of `group` rows (the last may be ragged) of
 * x[rows][heads][dim]; outputs [ceil(rows/group)][heads][dim]. */
void ref_pool_minmax(const float *x, uint32_t rows, uint32_t heads, uint32_t dim, uint32_t group, float *out_max,
                     float *out_min);

#endif
