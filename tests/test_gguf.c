#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen */
/* The GGUF reader: every value type of a valid file (versions 2 and 3),
 * tensors and their data, and the malformed files (every truncation, huge
 * counts, offsets past the end, bad types, repeats), each refused with its
 * own message. */
#include <stdlib.h>
#include <string.h>

#include "entropyinfer_gguf.h"
#include "util/gguf_writer.h"
#include "util/test_util.h"

static int64_t key(const ei_gguf *g, const char *name) {
    int64_t i = ei_gguf_find_key(g, name);
    CHECK(i >= 0, "no key %s", name);
    return i < 0 ? 0 : i;
}

static void check_values(const ei_gguf *g) {
    uint64_t u, n;
    int64_t s;
    double f;
    int b;
    const char *str;
    CHECK(ei_gguf_kv_count(g) == 18 && ei_gguf_tensor_count(g) == 4 && ei_gguf_alignment(g) == 64, "counts");
    CHECK(ei_gguf_get_string(g, key(g, "general.architecture"), &str, &n) == EI_OK && n == 5 &&
              !memcmp(str, "llama", 5),
          "architecture");
    CHECK(ei_gguf_get_uint(g, key(g, "t.u8"), &u) == EI_OK && u == 200, "u8");
    CHECK(ei_gguf_get_int(g, key(g, "t.i8"), &s) == EI_OK && s == -5, "i8");
    CHECK(ei_gguf_get_uint(g, key(g, "t.i8"), &u) == EI_ERROR_INVALID_ARGUMENT && strstr(ei_gguf_error(g), "negative"),
          "a negative value read as unsigned: %s", ei_gguf_error(g));
    CHECK(ei_gguf_get_uint(g, key(g, "t.u16"), &u) == EI_OK && u == 60000, "u16");
    CHECK(ei_gguf_get_int(g, key(g, "t.i16"), &s) == EI_OK && s == -300, "i16");
    CHECK(ei_gguf_get_uint(g, key(g, "t.u32"), &u) == EI_OK && u == 4000000000u, "u32");
    CHECK(ei_gguf_get_int(g, key(g, "t.i32"), &s) == EI_OK && s == -70000, "i32");
    CHECK(ei_gguf_get_float(g, key(g, "t.f32"), &f) == EI_OK && f == 1.5, "f32");
    CHECK(ei_gguf_get_bool(g, key(g, "t.bool"), &b) == EI_OK && b == 1, "bool");
    CHECK(ei_gguf_get_uint(g, key(g, "t.u64"), &u) == EI_OK && u == 1ull << 40, "u64");
    CHECK(ei_gguf_get_int(g, key(g, "t.i64"), &s) == EI_OK && s == -(1ll << 40), "i64");
    CHECK(ei_gguf_get_float(g, key(g, "t.f64"), &f) == EI_OK && f == -2.25, "f64");
    CHECK(ei_gguf_get_float(g, key(g, "t.u8"), &f) == EI_ERROR_INVALID_ARGUMENT, "an integer read as float");
    CHECK(ei_gguf_get_string(g, key(g, "t.u8"), &str, &n) == EI_ERROR_INVALID_ARGUMENT, "an integer read as string");
    ei_gguf_type t;
    int64_t a = key(g, "t.strings");
    CHECK(ei_gguf_get_array(g, a, &t, &n) == EI_OK && t == EI_GGUF_STRING && n == 3, "string array");
    CHECK(ei_gguf_array_string(g, a, 0, &str, &n) == EI_OK && n == 3 && !memcmp(str, "<s>", 3), "string 0");
    CHECK(ei_gguf_array_string(g, a, 1, &str, &n) == EI_OK && n == 0, "string 1 (empty)");
    CHECK(ei_gguf_array_string(g, a, 2, &str, &n) == EI_OK && n == 6 && !memcmp(str, "\xe2\x96\x81h\xc3\xa9", 6),
          "string 2 (UTF-8)");
    CHECK(ei_gguf_array_string(g, a, 3, &str, &n) == EI_ERROR_INVALID_ARGUMENT, "string 3 is past the end");
    a = key(g, "t.u32s");
    CHECK(ei_gguf_array_uint(g, a, 2, &u) == EI_OK && u == 9, "u32 array");
    CHECK(ei_gguf_array_uint(g, a, 3, &u) == EI_ERROR_INVALID_ARGUMENT, "u32 array past the end");
    CHECK(ei_gguf_array_float(g, key(g, "t.f32s"), 1, &f) == EI_OK && f == 1.5, "f32 array");
    a = key(g, "t.nested");
    CHECK(ei_gguf_get_array(g, a, &t, &n) == EI_OK && t == EI_GGUF_ARRAY && n == 2, "nested array");
    CHECK(ei_gguf_array_int(g, a, 0, &s) == EI_ERROR_INVALID_ARGUMENT, "nested arrays are not read as numbers");
    CHECK(ei_gguf_get_array(g, key(g, "t.empty"), &t, &n) == EI_OK && n == 0, "empty array");
    CHECK(ei_gguf_find_key(g, "no.such.key") == -1 && ei_gguf_get_uint(g, 99, &u) == EI_ERROR_INVALID_ARGUMENT,
          "missing keys");

    const struct {
        const char *name;
        uint32_t type, n_dims;
        uint64_t d0, d1, offset, bytes;
    } want[4] = {{"a", EI_GGML_F32, 2, 4, 3, 0, 48},
                 {"b", EI_GGML_F16, 1, 8, 1, 64, 16},
                 {"c", EI_GGML_Q8_0, 2, 64, 1, 128, 68},
                 {"d", EI_GGML_Q4_K, 2, 256, 2, 256, 288}};
    for (int i = 0; i < 4; i++) {
        ei_gguf_tensor tensor;
        int64_t at = ei_gguf_find_tensor(g, want[i].name);
        CHECK(at == i && ei_gguf_get_tensor(g, (uint64_t)at, &tensor) == EI_OK, "tensor %s", want[i].name);
        if (at != i) continue;
        uint64_t data_start = tensor.offset - want[i].offset;
        CHECK(tensor.type == want[i].type && tensor.n_dims == want[i].n_dims && tensor.dims[0] == want[i].d0 &&
                  tensor.dims[1] == want[i].d1 && tensor.dims[2] == 1 && tensor.bytes == want[i].bytes &&
                  data_start % 64 == 0,
              "tensor %s info", want[i].name);
        CHECK(((const uint8_t *)tensor.data)[1] == (uint8_t)((want[i].offset + 1) * 7), "tensor %s data", want[i].name);
    }
    CHECK(ei_gguf_find_tensor(g, "e") == -1, "no tensor e");
}

/* A copy of `size` bytes on its own allocation, so a read past it is a
 * sanitizer error. */
static ei_status parse_exact(const uint8_t *data, size_t size, ei_gguf **g, char *error, size_t n) {
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    ei_status st = ei_gguf_parse(copy, size, g, error, n);
    if (st == EI_OK) ei_gguf_close(*g); /* the copy goes next */
    free(copy);
    return st;
}

/* The sample with `n` bytes at `at` replaced; must fail mentioning `word`. */
static void expect_broken(const gw *good, size_t at, const void *bytes, size_t n, const char *word, const char *what) {
    uint8_t *copy = malloc(good->size);
    memcpy(copy, good->data, good->size);
    memcpy(copy + at, bytes, n);
    ei_gguf *g = NULL;
    char error[256] = "";
    ei_status st = parse_exact(copy, good->size, &g, error, sizeof error);
    CHECK(st == EI_ERROR_INVALID_ARGUMENT && strstr(error, word), "%s: got %s, '%s'", what, ei_status_name(st), error);
    printf("%-32s -> %s\n", what, error);
    free(copy);
}

static size_t find_bytes(const gw *w, const char *s, size_t n) {
    for (size_t i = 0; i + n <= w->size; i++)
        if (!memcmp(w->data + i, s, n)) return i;
    fprintf(stderr, "a pattern is not in the sample\n");
    exit(1);
}

static size_t find(const gw *w, const char *s) { return find_bytes(w, s, strlen(s)); }

static void check_malformed(void) {
    gw w = gw_sample(3);
    char error[256];
    ei_gguf *g = NULL;
    /* Every strict prefix fails cleanly (and the sanitizers see no overread). */
    size_t refused = 0;
    for (size_t n = 0; n < w.size; n++) {
        error[0] = '\0';
        refused += parse_exact(w.data, n, &g, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && error[0];
    }
    CHECK(refused == w.size, "%zu of %zu truncations refused with a message", refused, w.size);
    CHECK(parse_exact(w.data, w.size, &g, error, sizeof error) == EI_OK, "the whole sample parses: %s", error);

    const uint64_t huge = 1ull << 60;
    const uint32_t u32_9 = 99, v1 = 1, be = 0x03000000u, align3 = 3, type_bad = 77, dims5 = 5, two = 2;
    expect_broken(&w, 0, "GGML", 4, "not a GGUF file", "bad magic");
    expect_broken(&w, 4, &v1, 4, "version 1", "version 1");
    expect_broken(&w, 4, &be, 4, "big-endian", "big-endian");
    expect_broken(&w, 8, &huge, 8, "tensors cannot fit", "huge tensor count");
    expect_broken(&w, 16, &huge, 8, "metadata pairs cannot fit", "huge metadata count");
    expect_broken(&w, 24, &huge, 8, "bytes long", "huge key length");
    expect_broken(&w, find(&w, "general.architecture") + 20, &u32_9, 4, "unknown value type", "unknown value type");
    expect_broken(&w, find(&w, "general.alignment") + 21, &align3, 4, "power of two", "alignment 3");
    expect_broken(&w, find(&w, "t.bool") + 10, &two, 1, "bool", "bool of 2");
    expect_broken(&w, find(&w, "t.strings") + 17, &huge, 8, "cannot fit", "huge array count");
    expect_broken(&w, find(&w, "t.u32s") + 6 + 4, &type_bad, 4, "unknown type", "array of unknown type");
    expect_broken(&w, find(&w, "t.u64"), "t.u32", 5, "appears twice", "repeated key");
    /* Tensor infos: "a" (2 dims) is 41 bytes, "b" (1 dim) 33, "c" 41. */
    size_t a_info = find_bytes(&w,
                               "\x01\x00\x00\x00\x00\x00\x00\x00"
                               "a\x02\x00\x00\x00",
                               13);
    size_t b = a_info + 41;
    expect_broken(&w, b,
                  "\x01\x00\x00\x00\x00\x00\x00\x00"
                  "a",
                  9, "appears twice", "repeated tensor name");
    expect_broken(&w, b + 9, &dims5, 4, "dimensions", "5 dimensions");
    expect_broken(&w, b + 9 + 4 + 8, &type_bad, 4, "unknown type", "unknown tensor type");
    const uint64_t off_end = 1u << 20, off_odd = 65, ne_odd = 100;
    expect_broken(&w, b + 9 + 4 + 8 + 4, &off_end, 8, "pass the end", "offset past the end");
    expect_broken(&w, b + 9 + 4 + 8 + 4, &off_odd, 8, "multiple of the alignment", "misaligned offset");
    size_t d = b + 33 + 41;
    expect_broken(&w, d + 9 + 4, &ne_odd, 8, "not a multiple", "row not whole blocks");
    const uint64_t big_dim = 1ull << 62;
    expect_broken(&w, d + 9 + 4 + 8, &big_dim, 8, "overflow", "size overflow");
    gw_free(&w);
}

static void check_files(void) {
    char path[] = "/tmp/ei-gguf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "cannot make a temporary file");
    if (fd < 0) return;
    FILE *f = fdopen(fd, "wb");
    char error[256];
    ei_gguf *g = NULL;
    CHECK(ei_gguf_open(path, &g, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && strstr(error, "empty"),
          "empty file: %s", error);
    for (uint32_t version = 2; version <= 3; version++) {
        gw w = gw_sample(version);
        rewind(f);
        fwrite(w.data, 1, w.size, f);
        fflush(f);
        CHECK(ei_gguf_open(path, &g, error, sizeof error) == EI_OK, "version %u: %s", version, error);
        if (g) {
            CHECK(ei_gguf_version(g) == version, "version %u read as %u", version, ei_gguf_version(g));
            check_values(g);
            ei_gguf_close(g);
        }
        gw_free(&w);
    }
    fclose(f);
    remove(path);
    CHECK(ei_gguf_open(path, &g, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && strstr(error, path) && !g,
          "missing file: %s", error);
    CHECK(ei_gguf_open("/tmp", &g, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && strstr(error, "regular"),
          "a directory: %s", error);
}

int main(void) {
    check_files();
    check_malformed();
    return tu_tally();
}
