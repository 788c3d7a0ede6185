/* tests/ref/quant.c against the gguf package's dequantizers: reads the
 * records tests/quant_oracle.py wrote (random blocks of every type and
 * their expected values) and compares. Usage: test_quant FILE */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/test_util.h"

int main(int argc, char **argv) {
    FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
    CHECK(f != NULL, "usage: test_quant FILE (written by tests/quant_oracle.py)");
    if (!f) return tu_tally();
    uint32_t type;
    uint64_t blocks;
    int types = 0;
    while (fread(&type, 4, 1, f) == 1 && fread(&blocks, 8, 1, f) == 1) {
        uint64_t n = blocks * ei_ggml_block_elements(type), bytes = blocks * ei_ggml_block_bytes(type);
        uint8_t *raw = tu_alloc(bytes, 1);
        float *want = tu_alloc(n, 4), *got = tu_alloc(n, 4);
        CHECK(n && fread(raw, 1, bytes, f) == bytes && fread(want, 4, n, f) == n, "type %u: a short record", type);
        CHECK(ref_dequantize(type, raw, n, got), "type %u is not known", type);
        uint64_t bad = 0;
        double worst = 0;
        for (uint64_t i = 0; i < n; i++) {
            double e = fabs((double)got[i] - want[i]) / fmax(fabs(want[i]), 1e-6);
            if (!(e <= 1e-6)) bad++;
            worst = fmax(worst, isnan(e) ? INFINITY : e);
        }
        CHECK(bad == 0, "type %u: %llu of %llu values differ (worst relative %.3g)", type, (unsigned long long)bad,
              (unsigned long long)n, worst);
        printf("type %2u: %llu blocks, worst relative difference %.2g\n", type, (unsigned long long)blocks, worst);
        types++;
        free(raw), free(want), free(got);
    }
    fclose(f);
    CHECK(types == 8, "%d types read, want 8", types);
    return tu_tally();
}
