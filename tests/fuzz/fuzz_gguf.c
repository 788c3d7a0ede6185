/* libFuzzer target for the GGUF reader: parse arbitrary bytes, then read
 * every value and tensor the reader accepted. Build with clang and
 * -DEI_BUILD_FUZZERS=ON; run: build/tests/fuzz_gguf tests/fuzz/corpus. */
#include <stddef.h>
#include <stdint.h>

#include "entropyinfer_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ei_gguf *g = NULL;
    char error[256];
    if (ei_gguf_parse(data, size, &g, error, sizeof error) != EI_OK) return 0;
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < ei_gguf_kv_count(g); i++) {
        uint64_t u, n, length;
        int64_t s;
        double f;
        int b;
        const char *str;
        ei_gguf_type t;
        sink += ei_gguf_get_uint(g, i, &u) == EI_OK ? u : 0;
        sink += ei_gguf_get_int(g, i, &s) == EI_OK ? (uint64_t)s : 0;
        sink += ei_gguf_get_float(g, i, &f) == EI_OK;
        sink += ei_gguf_get_bool(g, i, &b) == EI_OK ? (uint64_t)b : 0;
        if (ei_gguf_get_string(g, i, &str, &length) == EI_OK && length) sink += (uint8_t)str[length - 1];
        if (ei_gguf_get_array(g, i, &t, &n) != EI_OK) continue;
        for (uint64_t j = 0; j < n && j < 64; j++) {
            sink += ei_gguf_array_uint(g, i, j, &u) == EI_OK ? u : 0;
            sink += ei_gguf_array_int(g, i, j, &s) == EI_OK;
            sink += ei_gguf_array_float(g, i, j, &f) == EI_OK;
            if (ei_gguf_array_string(g, i, j, &str, &length) == EI_OK && length) sink += (uint8_t)str[0];
        }
    }
    for (uint64_t i = 0; i < ei_gguf_tensor_count(g); i++) {
        ei_gguf_tensor t;
        if (ei_gguf_get_tensor(g, i, &t) == EI_OK && t.bytes)
            sink += ((const uint8_t *)t.data)[0] + ((const uint8_t *)t.data)[t.bytes - 1];
    }
    ei_gguf_close(g);
    return 0;
}
