/* EntropyInfer-VK: reading GGUF model files (versions 2 and 3).
 *
 * Every count, offset, size and string length is checked against the file
 * with overflow-safe arithmetic; a malformed or truncated file gives
 * EI_ERROR_INVALID_ARGUMENT and a message naming what is wrong. The reader
 * maps the file read-only and hands out pointers into it (strings are not
 * NUL-terminated: each comes with its length); they live until
 * ei_gguf_close. A reader may be used from one thread at a time. */
#ifndef ENTROPYINFER_GGUF_H
#define ENTROPYINFER_GGUF_H

#include "entropyinfer.h"

EI_API_BEGIN

typedef struct ei_gguf ei_gguf;

/* Metadata value types, as the GGUF specification numbers them. */
typedef enum ei_gguf_type {
    EI_GGUF_UINT8 = 0,
    EI_GGUF_INT8 = 1,
    EI_GGUF_UINT16 = 2,
    EI_GGUF_INT16 = 3,
    EI_GGUF_UINT32 = 4,
    EI_GGUF_INT32 = 5,
    EI_GGUF_FLOAT32 = 6,
    EI_GGUF_BOOL = 7,
    EI_GGUF_STRING = 8,
    EI_GGUF_ARRAY = 9,
    EI_GGUF_UINT64 = 10,
    EI_GGUF_INT64 = 11,
    EI_GGUF_FLOAT64 = 12
} ei_gguf_type;

/* Tensor storage types (ggml's numbering) the reader knows the layout of;
 * docs/quantization.md describes each block. */
typedef enum ei_ggml_type {
    EI_GGML_F32 = 0,
    EI_GGML_F16 = 1,
    EI_GGML_Q4_0 = 2,
    EI_GGML_Q4_1 = 3,
    EI_GGML_Q5_0 = 6,
    EI_GGML_Q5_1 = 7,
    EI_GGML_Q8_0 = 8,
    EI_GGML_Q8_1 = 9,
    EI_GGML_Q2_K = 10,
    EI_GGML_Q3_K = 11,
    EI_GGML_Q4_K = 12,
    EI_GGML_Q5_K = 13,
    EI_GGML_Q6_K = 14,
    EI_GGML_Q8_K = 15,
    EI_GGML_BF16 = 30
} ei_ggml_type;

/* Elements per block and bytes per block of a ggml type; 0 for a type the
 * reader does not know. */
uint32_t ei_ggml_block_elements(uint32_t type);
uint32_t ei_ggml_block_bytes(uint32_t type);

/* Opens and validates a file (memory-mapped). On failure *out is NULL and
 * error (may be NULL) says why. */
ei_status ei_gguf_open(const char *path, ei_gguf **out, char *error, size_t error_size);

/* The same from bytes the caller keeps alive until ei_gguf_close. */
ei_status ei_gguf_parse(const void *data, size_t size, ei_gguf **out, char *error, size_t error_size);

void ei_gguf_close(ei_gguf *g);

/* The message of the reader's last failed accessor ("" if none). */
const char *ei_gguf_error(const ei_gguf *g);

uint32_t ei_gguf_version(const ei_gguf *g);
uint32_t ei_gguf_alignment(const ei_gguf *g);

/* ---- Metadata ---- */

uint64_t ei_gguf_kv_count(const ei_gguf *g);
/* The index of a key, or -1. */
int64_t ei_gguf_find_key(const ei_gguf *g, const char *key);
/* Key i (0 <= i < kv_count) and its length. */
const char *ei_gguf_key(const ei_gguf *g, uint64_t i, uint64_t *length);
ei_gguf_type ei_gguf_value_type(const ei_gguf *g, uint64_t i);

/* Scalar values of key i. Integers convert between widths and signedness
 * when the value fits; floats read either float type; any other type or an
 * index out of range gives EI_ERROR_INVALID_ARGUMENT (ei_gguf_error says
 * which). */
ei_status ei_gguf_get_uint(const ei_gguf *g, uint64_t i, uint64_t *out);
ei_status ei_gguf_get_int(const ei_gguf *g, uint64_t i, int64_t *out);
ei_status ei_gguf_get_float(const ei_gguf *g, uint64_t i, double *out);
ei_status ei_gguf_get_bool(const ei_gguf *g, uint64_t i, int *out);
ei_status ei_gguf_get_string(const ei_gguf *g, uint64_t i, const char **out, uint64_t *length);

/* An array value: its element type and count. Elements of scalar type are
 * read with ei_gguf_array_uint/int/float, strings with
 * ei_gguf_array_string (O(1) per element), nested arrays are refused by
 * the accessors. */
ei_status ei_gguf_get_array(const ei_gguf *g, uint64_t i, ei_gguf_type *element_type, uint64_t *count);
ei_status ei_gguf_array_uint(const ei_gguf *g, uint64_t i, uint64_t index, uint64_t *out);
ei_status ei_gguf_array_int(const ei_gguf *g, uint64_t i, uint64_t index, int64_t *out);
ei_status ei_gguf_array_float(const ei_gguf *g, uint64_t i, uint64_t index, double *out);
ei_status ei_gguf_array_string(const ei_gguf *g, uint64_t i, uint64_t index, const char **out, uint64_t *length);

/* ---- Tensors ---- */

#define EI_GGUF_MAX_DIMS 4

typedef struct ei_gguf_tensor {
    const char *name;
    uint64_t name_length;
    uint32_t n_dims;
    uint64_t dims[EI_GGUF_MAX_DIMS]; /* dims[0] varies fastest; unused dims are 1 */
    uint32_t type;                   /* ei_ggml_type */
    uint64_t offset;                 /* from the start of the file */
    uint64_t bytes;
    const void *data; /* into the mapping */
} ei_gguf_tensor;

uint64_t ei_gguf_tensor_count(const ei_gguf *g);
int64_t ei_gguf_find_tensor(const ei_gguf *g, const char *name);
ei_status ei_gguf_get_tensor(const ei_gguf *g, uint64_t i, ei_gguf_tensor *out);

EI_API_END

#endif
