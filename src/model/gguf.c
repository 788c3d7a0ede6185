/* GGUF reader (versions 2 and 3, little-endian). Everything read from the
 * file is checked against its size before use; no count from the file
 * decides an allocation before it has been bounded by the bytes left. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "entropyinfer_gguf.h"

#define DEFAULT_ALIGNMENT 32
#define MAX_ALIGNMENT (1u << 20)
#define MAX_ARRAY_DEPTH 4

typedef struct kv {
    const uint8_t *key;
    uint64_t key_length;
    uint32_t type;
    const uint8_t *value;  /* the value's first byte (for arrays: the first element) */
    uint32_t element_type; /* arrays */
    uint64_t count;        /* arrays */
    uint64_t *strings;     /* arrays of strings: each element's offset from value */
} kv;

struct ei_gguf {
    const uint8_t *data;
    size_t size;
    int mapped;
    uint32_t version, alignment;
    uint64_t n_kv, n_tensors;
    kv *kvs;
    ei_gguf_tensor *tensors;
    char error[256];
};

/* A bounds-checked reader over the file; the first failure sticks. */
typedef struct cursor {
    const uint8_t *data;
    size_t size, pos;
    char *error;
    size_t error_size;
    int failed;
} cursor;

static int fail(cursor *c, const char *fmt, ...) {
    if (!c->failed && c->error && c->error_size) {
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(c->error, c->error_size, "GGUF: ");
        vsnprintf(c->error + n, c->error_size > (size_t)n ? c->error_size - n : 0, fmt, ap);
        va_end(ap);
    }
    c->failed = 1;
    return 0;
}

static size_t left(const cursor *c) { return c->size - c->pos; }

static int take(cursor *c, size_t n, const uint8_t **at, const char *what) {
    if (c->failed) return 0;
    if (n > left(c))
        return fail(c, "%s at byte %zu needs %zu bytes but the file ends %zu bytes later", what, c->pos, n, left(c));
    if (at) *at = c->data + c->pos;
    c->pos += n;
    return 1;
}

static uint64_t le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) {
    const uint8_t *p = NULL;
    if (!take(c, 4, &p, what)) return 0;
    *v = (uint32_t)le(p, 4);
    return 1;
}

static int read_u64(cursor *c, uint64_t *v, const char *what) {
    const uint8_t *p = NULL;
    if (!take(c, 8, &p, what)) return 0;
    *v = le(p, 8);
    return 1;
}

static int read_string(cursor *c, const uint8_t **s, uint64_t *len, const char *what) {
    if (!read_u64(c, len, what)) return 0;
    if (*len > left(c))
        return fail(c, "%s at byte %zu is %llu bytes long but only %zu bytes are left", what, c->pos - 8,
                    (unsigned long long)*len, left(c));
    return take(c, (size_t)*len, s, what);
}

static size_t scalar_size(uint32_t type) {
    switch (type) {
    case EI_GGUF_UINT8:
    case EI_GGUF_INT8:
    case EI_GGUF_BOOL: return 1;
    case EI_GGUF_UINT16:
    case EI_GGUF_INT16: return 2;
    case EI_GGUF_UINT32:
    case EI_GGUF_INT32:
    case EI_GGUF_FLOAT32: return 4;
    case EI_GGUF_UINT64:
    case EI_GGUF_INT64:
    case EI_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Reads (and checks) one value of `type`; for a top-level array fills the
 * kv's element type, count and string offsets. */
static int read_value(cursor *c, uint32_t type, kv *out, int depth, const char *what) {
    size_t size = scalar_size(type);
    if (size) {
        const uint8_t *p = NULL;
        if (!take(c, size, &p, what)) return 0;
        if (type == EI_GGUF_BOOL && *p > 1) return fail(c, "%s: a bool of value %u", what, *p);
        return 1;
    }
    if (type == EI_GGUF_STRING) {
        const uint8_t *s = NULL;
        uint64_t len;
        return read_string(c, &s, &len, what);
    }
    if (type != EI_GGUF_ARRAY) return fail(c, "%s: unknown value type %u", what, type);
    if (depth >= MAX_ARRAY_DEPTH) return fail(c, "%s: arrays nested more than %d deep", what, MAX_ARRAY_DEPTH);
    uint32_t element;
    uint64_t count;
    if (!read_u32(c, &element, what) || !read_u64(c, &count, what)) return 0;
    size_t es = scalar_size(element);
    /* Every element takes at least one byte (a string: 8), so the count is
     * bounded by what is left before anything is allocated. */
    size_t least = es ? es : element == EI_GGUF_STRING ? 8 : 12;
    if (element != EI_GGUF_STRING && element != EI_GGUF_ARRAY && !es)
        return fail(c, "%s: an array of unknown type %u", what, element);
    if (count > left(c) / least)
        return fail(c, "%s: an array of %llu elements of type %u cannot fit the %zu bytes left", what,
                    (unsigned long long)count, element, left(c));
    const uint8_t *start = c->data + c->pos;
    if (out) {
        out->element_type = element;
        out->count = count;
        out->value = start;
    }
    if (es) {
        if (!take(c, (size_t)(count * es), NULL, what)) return 0;
        if (element == EI_GGUF_BOOL)
            for (uint64_t i = 0; i < count; i++)
                if (start[i] > 1)
                    return fail(c, "%s: bool element %llu has value %u", what, (unsigned long long)i, start[i]);
        return 1;
    }
    if (out && element == EI_GGUF_STRING) {
        out->strings = malloc(sizeof(uint64_t) * (count ? count : 1));
        if (!out->strings) return fail(c, "%s: out of host memory for %llu strings", what, (unsigned long long)count);
    }
    for (uint64_t i = 0; i < count; i++) {
        if (out && out->strings) out->strings[i] = (uint64_t)(c->data + c->pos - start);
        if (!read_value(c, element, NULL, depth + 1, what)) return 0;
    }
    return 1;
}

static int key_is(const kv *k, const char *name) {
    size_t n = strlen(name);
    return k->key_length == n && memcmp(k->key, name, n) == 0;
}

typedef struct name_ref {
    const uint8_t *name;
    uint64_t length;
} name_ref;

static int by_name(const void *x, const void *y) {
    const name_ref *a = x, *b = y;
    if (a->length != b->length) return a->length < b->length ? -1 : 1;
    return memcmp(a->name, b->name, a->length);
}

/* Keys, and tensor names, must not repeat: sort and compare neighbours
 * (a pairwise check would be quadratic in counts a file controls). */
static int repeated(cursor *c, name_ref *refs, uint64_t n, const char *what) {
    qsort(refs, n, sizeof *refs, by_name);
    for (uint64_t i = 1; i < n; i++)
        if (!by_name(&refs[i - 1], &refs[i]))
            return !fail(c, "the %s '%.*s' appears twice", what, (int)(refs[i].length < 64 ? refs[i].length : 64),
                         (const char *)refs[i].name);
    return 0;
}

static int unique(cursor *c, const ei_gguf *g) {
    uint64_t n = g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors;
    name_ref *refs = malloc(sizeof *refs * (n ? n : 1));
    if (!refs) return fail(c, "out of host memory");
    for (uint64_t i = 0; i < g->n_kv; i++)
        refs[i] = (name_ref){g->kvs[i].key, g->kvs[i].key_length};
    int bad = repeated(c, refs, g->n_kv, "metadata key");
    for (uint64_t i = 0; !bad && i < g->n_tensors; i++)
        refs[i] = (name_ref){(const uint8_t *)g->tensors[i].name, g->tensors[i].name_length};
    bad = bad || repeated(c, refs, g->n_tensors, "tensor name");
    free(refs);
    return !bad;
}

static int parse(ei_gguf *g, cursor *c) {
    const uint8_t *magic = NULL;
    if (!take(c, 4, &magic, "the magic")) return 0;
    if (memcmp(magic, "GGUF", 4) != 0) return fail(c, "not a GGUF file (the first bytes are not \"GGUF\")");
    if (!read_u32(c, &g->version, "the version")) return 0;
    if (g->version == 1) return fail(c, "version 1 files (32-bit counts) are not supported; convert to version 3");
    if (g->version > 0xffff && (g->version & 0xffff) == 0)
        return fail(c, "a big-endian file (version bytes %08x) is not supported", g->version);
    if (g->version != 2 && g->version != 3) return fail(c, "unsupported version %u (2 and 3 are)", g->version);
    if (!read_u64(c, &g->n_tensors, "the tensor count") || !read_u64(c, &g->n_kv, "the metadata count")) return 0;
    /* A pair is at least 13 bytes and a tensor info 24: bound the counts. */
    if (g->n_kv > left(c) / 13)
        return fail(c, "%llu metadata pairs cannot fit the %zu bytes left", (unsigned long long)g->n_kv, left(c));
    if (g->n_tensors > left(c) / 24)
        return fail(c, "%llu tensors cannot fit the %zu bytes left", (unsigned long long)g->n_tensors, left(c));
    g->kvs = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kvs);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kvs || !g->tensors) return fail(c, "out of host memory");
    g->alignment = DEFAULT_ALIGNMENT;
    char what[96];
    for (uint64_t i = 0; i < g->n_kv; i++) {
        kv *k = &g->kvs[i];
        snprintf(what, sizeof what, "metadata pair %llu", (unsigned long long)i);
        if (!read_string(c, &k->key, &k->key_length, what) || !read_u32(c, &k->type, what)) return 0;
        if (k->key_length == 0) return fail(c, "%s has an empty key", what);
        k->value = c->data + c->pos;
        if (!read_value(c, k->type, k, 0, what)) return 0;
        if (key_is(k, "general.alignment")) {
            uint32_t a = k->type == EI_GGUF_UINT32 ? (uint32_t)le(k->value, 4) : 0;
            if (!a || (a & (a - 1)) || a > MAX_ALIGNMENT)
                return fail(c, "general.alignment must be a uint32 power of two up to %u", MAX_ALIGNMENT);
            g->alignment = a;
        }
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        ei_gguf_tensor *t = &g->tensors[i];
        snprintf(what, sizeof what, "tensor %llu", (unsigned long long)i);
        const uint8_t *name = NULL;
        if (!read_string(c, &name, &t->name_length, what) || !read_u32(c, &t->n_dims, what)) return 0;
        t->name = (const char *)name;
        if (t->name_length == 0) return fail(c, "%s has an empty name", what);
        if (t->n_dims > EI_GGUF_MAX_DIMS)
            return fail(c, "%s has %u dimensions (at most %d)", what, t->n_dims, EI_GGUF_MAX_DIMS);
        for (int d = 0; d < EI_GGUF_MAX_DIMS; d++)
            t->dims[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (!read_u64(c, &t->dims[d], what)) return 0;
            if (t->dims[d] > INT64_MAX) return fail(c, "%s has a negative dimension", what);
        }
        if (!read_u32(c, &t->type, what) || !read_u64(c, &t->offset, what)) return 0;
        uint32_t be = ei_ggml_block_elements(t->type), bb = ei_ggml_block_bytes(t->type);
        if (!be) return fail(c, "%s has an unknown type %u", what, t->type);
        if (t->dims[0] % be)
            return fail(c, "%s: %llu elements per row is not a multiple of the type's block of %u", what,
                        (unsigned long long)t->dims[0], be);
        uint64_t blocks = t->dims[0] / be;
        for (int d = 1; d < EI_GGUF_MAX_DIMS; d++) {
            if (t->dims[d] && blocks > UINT64_MAX / t->dims[d]) return fail(c, "%s: its size overflows", what);
            blocks *= t->dims[d];
        }
        if (blocks > UINT64_MAX / bb) return fail(c, "%s: its size overflows", what);
        t->bytes = blocks * bb;
        if (t->offset % g->alignment)
            return fail(c, "%s: offset %llu is not a multiple of the alignment %u", what, (unsigned long long)t->offset,
                        g->alignment);
    }
    if (!unique(c, g)) return 0;
    /* The data starts at the next multiple of the alignment. */
    uint64_t start = (c->pos + g->alignment - 1) / g->alignment * g->alignment;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        ei_gguf_tensor *t = &g->tensors[i];
        if (t->offset > c->size || start > c->size - t->offset || t->bytes > c->size - start - t->offset)
            return fail(c, "tensor %llu ('%.*s'): %llu bytes at data offset %llu pass the end of the file (%zu bytes)",
                        (unsigned long long)i, (int)(t->name_length < 64 ? t->name_length : 64), t->name,
                        (unsigned long long)t->bytes, (unsigned long long)t->offset, c->size);
        t->offset += start;
        t->data = c->data + t->offset;
    }
    return 1;
}

ei_status ei_gguf_parse(const void *data, size_t size, ei_gguf **out, char *error, size_t error_size) {
    if (error && error_size) error[0] = '\0';
    if (!out || (!data && size)) {
        if (error && error_size) snprintf(error, error_size, "ei_gguf_parse: NULL argument");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    *out = NULL;
    ei_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        if (error && error_size) snprintf(error, error_size, "out of host memory");
        return EI_ERROR_OUT_OF_HOST_MEMORY;
    }
    g->data = data;
    g->size = size;
    cursor c = {data, size, 0, error, error_size, 0};
    if (!parse(g, &c)) {
        ei_gguf_close(g);
        return EI_ERROR_INVALID_ARGUMENT;
    }
    *out = g;
    return EI_OK;
}

ei_status ei_gguf_open(const char *path, ei_gguf **out, char *error, size_t error_size) {
    if (!path || !out) return ei_gguf_parse(NULL, 0, out, error, error_size);
    *out = NULL;
    int fd = open(path, O_RDONLY);
    struct stat st;
    const char *why = NULL;
    if (fd < 0)
        why = strerror(errno);
    else if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_size == 0)
        why = "the file is empty";
    if (why) {
        if (error && error_size) snprintf(error, error_size, "GGUF: cannot read %s: %s", path, why);
        if (fd >= 0) close(fd);
        return EI_ERROR_INVALID_ARGUMENT;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd); /* the mapping stays */
    if (map == MAP_FAILED) {
        if (error && error_size) snprintf(error, error_size, "GGUF: cannot map %s: %s", path, strerror(errno));
        return EI_ERROR_OUT_OF_HOST_MEMORY;
    }
    ei_status s = ei_gguf_parse(map, (size_t)st.st_size, out, error, error_size);
    if (s != EI_OK) {
        munmap(map, (size_t)st.st_size);
        return s;
    }
    (*out)->mapped = 1;
    return EI_OK;
}

void ei_gguf_close(ei_gguf *g) {
    if (!g) return;
    for (uint64_t i = 0; g->kvs && i < g->n_kv; i++)
        free(g->kvs[i].strings);
    free(g->kvs);
    free(g->tensors);
    if (g->mapped) munmap((void *)g->data, g->size);
    free(g);
}

const char *ei_gguf_error(const ei_gguf *g) { return g ? g->error : ""; }
uint32_t ei_gguf_version(const ei_gguf *g) { return g ? g->version : 0; }
uint32_t ei_gguf_alignment(const ei_gguf *g) { return g ? g->alignment : 0; }
uint64_t ei_gguf_kv_count(const ei_gguf *g) { return g ? g->n_kv : 0; }
uint64_t ei_gguf_tensor_count(const ei_gguf *g) { return g ? g->n_tensors : 0; }

int64_t ei_gguf_find_key(const ei_gguf *g, const char *key) {
    for (uint64_t i = 0; g && key && i < g->n_kv; i++)
        if (key_is(&g->kvs[i], key)) return (int64_t)i;
    return -1;
}

const char *ei_gguf_key(const ei_gguf *g, uint64_t i, uint64_t *length) {
    if (!g || i >= g->n_kv) return NULL;
    if (length) *length = g->kvs[i].key_length;
    return (const char *)g->kvs[i].key;
}

ei_gguf_type ei_gguf_value_type(const ei_gguf *g, uint64_t i) {
    return g && i < g->n_kv ? (ei_gguf_type)g->kvs[i].type : EI_GGUF_UINT8;
}

static ei_status refuse(const ei_gguf *g, const char *fmt, ...) {
    if (g) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(((ei_gguf *)g)->error, sizeof g->error, fmt, ap);
        va_end(ap);
    }
    return EI_ERROR_INVALID_ARGUMENT;
}

/* A scalar of `type` at p as a signed or unsigned 64-bit value; 0 for a
 * non-integer type. */
static int integer_at(const uint8_t *p, uint32_t type, uint64_t *u, int64_t *s, int *negative) {
    size_t n = scalar_size(type);
    if (!n || type == EI_GGUF_FLOAT32 || type == EI_GGUF_FLOAT64 || type == EI_GGUF_BOOL) return 0;
    uint64_t v = le(p, (int)n);
    int is_signed = type == EI_GGUF_INT8 || type == EI_GGUF_INT16 || type == EI_GGUF_INT32 || type == EI_GGUF_INT64;
    if (is_signed && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ull << (8 * n); /* sign-extend */
    *negative = is_signed && (int64_t)v < 0;
    *u = v;
    *s = (int64_t)v;
    return 1;
}

static ei_status as_uint(const ei_gguf *g, const uint8_t *p, uint32_t type, uint64_t *out) {
    uint64_t u;
    int64_t s;
    int negative;
    if (!integer_at(p, type, &u, &s, &negative)) return refuse(g, "GGUF: the value (type %u) is not an integer", type);
    if (negative) return refuse(g, "GGUF: the value %lld is negative", (long long)s);
    *out = u;
    return EI_OK;
}

static ei_status as_int(const ei_gguf *g, const uint8_t *p, uint32_t type, int64_t *out) {
    uint64_t u;
    int64_t s;
    int negative;
    if (!integer_at(p, type, &u, &s, &negative)) return refuse(g, "GGUF: the value (type %u) is not an integer", type);
    if (type == EI_GGUF_UINT64 && u > INT64_MAX)
        return refuse(g, "GGUF: the value %llu does not fit int64", (unsigned long long)u);
    *out = s;
    return EI_OK;
}

static ei_status as_float(const ei_gguf *g, const uint8_t *p, uint32_t type, double *out) {
    if (type == EI_GGUF_FLOAT32) {
        uint32_t bits = (uint32_t)le(p, 4);
        float f;
        memcpy(&f, &bits, 4);
        *out = f;
    } else if (type == EI_GGUF_FLOAT64) {
        uint64_t bits = le(p, 8);
        memcpy(out, &bits, 8);
    } else {
        return refuse(g, "GGUF: the value (type %u) is not a float", type);
    }
    return EI_OK;
}

static const kv *get(const ei_gguf *g, uint64_t i) {
    if (!g || i >= g->n_kv) {
        refuse(g, "GGUF: no metadata pair %llu", (unsigned long long)i);
        return NULL;
    }
    return &g->kvs[i];
}

ei_status ei_gguf_get_uint(const ei_gguf *g, uint64_t i, uint64_t *out) {
    const kv *k = get(g, i);
    return k && out ? as_uint(g, k->value, k->type, out) : EI_ERROR_INVALID_ARGUMENT;
}

ei_status ei_gguf_get_int(const ei_gguf *g, uint64_t i, int64_t *out) {
    const kv *k = get(g, i);
    return k && out ? as_int(g, k->value, k->type, out) : EI_ERROR_INVALID_ARGUMENT;
}

ei_status ei_gguf_get_float(const ei_gguf *g, uint64_t i, double *out) {
    const kv *k = get(g, i);
    return k && out ? as_float(g, k->value, k->type, out) : EI_ERROR_INVALID_ARGUMENT;
}

ei_status ei_gguf_get_bool(const ei_gguf *g, uint64_t i, int *out) {
    const kv *k = get(g, i);
    if (!k || !out) return EI_ERROR_INVALID_ARGUMENT;
    if (k->type != EI_GGUF_BOOL) return refuse(g, "GGUF: the value (type %u) is not a bool", k->type);
    *out = k->value[0];
    return EI_OK;
}

ei_status ei_gguf_get_string(const ei_gguf *g, uint64_t i, const char **out, uint64_t *length) {
    const kv *k = get(g, i);
    if (!k || !out || !length) return EI_ERROR_INVALID_ARGUMENT;
    if (k->type != EI_GGUF_STRING) return refuse(g, "GGUF: the value (type %u) is not a string", k->type);
    *length = le(k->value, 8);
    *out = (const char *)k->value + 8;
    return EI_OK;
}

ei_status ei_gguf_get_array(const ei_gguf *g, uint64_t i, ei_gguf_type *element_type, uint64_t *count) {
    const kv *k = get(g, i);
    if (!k || !element_type || !count) return EI_ERROR_INVALID_ARGUMENT;
    if (k->type != EI_GGUF_ARRAY) return refuse(g, "GGUF: the value (type %u) is not an array", k->type);
    *element_type = (ei_gguf_type)k->element_type;
    *count = k->count;
    return EI_OK;
}

/* Element `index` of array i, a scalar: its bytes and type. */
static const uint8_t *element(const ei_gguf *g, uint64_t i, uint64_t index, uint32_t *type) {
    const kv *k = get(g, i);
    if (!k) return NULL;
    if (k->type != EI_GGUF_ARRAY || !scalar_size(k->element_type)) {
        refuse(g, "GGUF: metadata pair %llu is not an array of numbers", (unsigned long long)i);
        return NULL;
    }
    if (index >= k->count) {
        refuse(g, "GGUF: index %llu is past the array's %llu elements", (unsigned long long)index,
               (unsigned long long)k->count);
        return NULL;
    }
    *type = k->element_type;
    return k->value + index * scalar_size(k->element_type);
}

ei_status ei_gguf_array_uint(const ei_gguf *g, uint64_t i, uint64_t index, uint64_t *out) {
    uint32_t type;
    const uint8_t *p = element(g, i, index, &type);
    return p && out ? as_uint(g, p, type, out) : EI_ERROR_INVALID_ARGUMENT;
}

ei_status ei_gguf_array_int(const ei_gguf *g, uint64_t i, uint64_t index, int64_t *out) {
    uint32_t type;
    const uint8_t *p = element(g, i, index, &type);
    return p && out ? as_int(g, p, type, out) : EI_ERROR_INVALID_ARGUMENT;
}

ei_status ei_gguf_array_float(const ei_gguf *g, uint64_t i, uint64_t index, double *out) {
    uint32_t type;
    const uint8_t *p = element(g, i, index, &type);
    return p && out ? as_float(g, p, type, out) : EI_ERROR_INVALID_ARGUMENT;
}

ei_status ei_gguf_array_string(const ei_gguf *g, uint64_t i, uint64_t index, const char **out, uint64_t *length) {
    const kv *k = get(g, i);
    if (!k || !out || !length) return EI_ERROR_INVALID_ARGUMENT;
    if (k->type != EI_GGUF_ARRAY || k->element_type != EI_GGUF_STRING)
        return refuse(g, "GGUF: metadata pair %llu is not an array of strings", (unsigned long long)i);
    if (index >= k->count)
        return refuse(g, "GGUF: index %llu is past the array's %llu strings", (unsigned long long)index,
                      (unsigned long long)k->count);
    const uint8_t *p = k->value + k->strings[index];
    *length = le(p, 8);
    *out = (const char *)p + 8;
    return EI_OK;
}

int64_t ei_gguf_find_tensor(const ei_gguf *g, const char *name) {
    size_t n = name ? strlen(name) : 0;
    for (uint64_t i = 0; g && name && i < g->n_tensors; i++)
        if (g->tensors[i].name_length == n && memcmp(g->tensors[i].name, name, n) == 0) return (int64_t)i;
    return -1;
}

ei_status ei_gguf_get_tensor(const ei_gguf *g, uint64_t i, ei_gguf_tensor *out) {
    if (!g || !out || i >= g->n_tensors) return refuse(g, "GGUF: no tensor %llu", (unsigned long long)i);
    *out = g->tensors[i];
    return EI_OK;
}
