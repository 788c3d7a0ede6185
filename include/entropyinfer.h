/* EntropyInfer-VK: long-context LLM attention on any Vulkan 1.2+ GPU.
 *
 * The public C API. Every function returns an ei_status (or is a getter that
 * cannot fail); on failure, ei_context_error() gives a readable message. The
 * library never aborts or exits the process and keeps no global mutable
 * state besides the Vulkan loader's entry points (see ei_context_create).
 *
 * Threads: one ei_context and everything made from it (buffers, command
 * recordings) may be used by one thread at a time. Different contexts may be
 * used from different threads. Creating or destroying contexts must not race
 * with each other (the Vulkan loader entry points are process-wide).
 *
 * Apps that own a Vulkan device include entropyinfer_vulkan.h as well, to
 * hand it over (ei_context_adopt) and to reach the Vulkan handles behind
 * buffers and recordings. */
#ifndef ENTROPYINFER_H
#define ENTROPYINFER_H

#include <stddef.h>
#include <stdint.h>

/* Every public header wraps its declarations in these: C linkage, and
 * default visibility (the library builds with hidden visibility). */
#if defined(__GNUC__)
#define EI_VISIBILITY_PUSH _Pragma("GCC visibility push(default)")
#define EI_VISIBILITY_POP _Pragma("GCC visibility pop")
#else
#define EI_VISIBILITY_PUSH
#define EI_VISIBILITY_POP
#endif
#ifdef __cplusplus
#define EI_API_BEGIN                                                                                                   \
    extern "C" {                                                                                                       \
    EI_VISIBILITY_PUSH
#define EI_API_END                                                                                                     \
    EI_VISIBILITY_POP                                                                                                  \
    }
#else
#define EI_API_BEGIN EI_VISIBILITY_PUSH
#define EI_API_END EI_VISIBILITY_POP
#endif

EI_API_BEGIN

#define EI_VERSION_MAJOR 0
#define EI_VERSION_MINOR 1
#define EI_VERSION_PATCH 0

typedef enum ei_status {
    EI_OK = 0,
    EI_ERROR_INVALID_ARGUMENT,     /* a NULL, a bad shape, an out-of-range value */
    EI_ERROR_OUT_OF_HOST_MEMORY,   /* malloc or a host-side Vulkan allocation failed */
    EI_ERROR_OUT_OF_DEVICE_MEMORY, /* VK_ERROR_OUT_OF_DEVICE_MEMORY */
    EI_ERROR_DEVICE_LOST,          /* VK_ERROR_DEVICE_LOST: the context is unusable */
    EI_ERROR_FEATURE_NOT_PRESENT,  /* the device lacks a required feature or extension */
    EI_ERROR_LIMIT_EXCEEDED,       /* a size beyond what the device can address */
    EI_ERROR_NO_DEVICE,            /* no Vulkan loader, no device, or none matching */
    EI_ERROR_VULKAN                /* any other Vulkan failure (the message names it) */
} ei_status;

/* A short constant name for a status ("EI_ERROR_DEVICE_LOST"). */
const char *ei_status_name(ei_status status);

typedef enum ei_dtype {
    EI_F32 = 0,
    EI_F16 = 1,
    EI_BF16 = 2, /* stored as 16-bit words; needs no device bf16 feature */
    EI_U32 = 3   /* lengths and indices */
} ei_dtype;

/* Bytes per element of a dtype (4 or 2). */
size_t ei_dtype_size(ei_dtype dtype);

/* ---- Context ---------------------------------------------------------- */

typedef struct ei_context ei_context;

/* Optional capabilities a caller can require at creation, or mask off to
 * force portable paths (for testing and for comparisons). */
typedef enum ei_feature {
    EI_FEATURE_TIMESTAMPS = 1u << 0,          /* GPU timestamps on the compute queue */
    EI_FEATURE_COOPERATIVE_MATRIX = 1u << 1,  /* VK_KHR_cooperative_matrix */
    EI_FEATURE_COOPERATIVE_MATRIX2 = 1u << 2, /* VK_NV_cooperative_matrix2 */
    EI_FEATURE_SHADER_FLOAT16 = 1u << 3,      /* fp16 arithmetic in shaders */
    EI_FEATURE_SHADER_BFLOAT16 = 1u << 4,     /* VK_KHR_shader_bfloat16 */
    EI_FEATURE_SHADER_INT8 = 1u << 5,         /* int8 arithmetic in shaders */
    EI_FEATURE_STORAGE_16BIT = 1u << 6,       /* 16-bit types in storage buffers */
    EI_FEATURE_STORAGE_8BIT = 1u << 7,        /* 8-bit types in storage buffers */
    EI_FEATURE_UNIFIED_MEMORY = 1u << 8       /* device-local memory the host can map */
} ei_feature;

/* Host-memory hooks (a game engine's allocator, or a test's that fails on
 * purpose). Given to a context, they serve every host allocation the
 * library makes for it and for what is made from it (buffers, recordings,
 * pipelines, KV caches, models, sessions), and the Vulkan objects it
 * creates, as VkAllocationCallbacks (its own instance and device included).
 * alloc returns `size` bytes aligned to `alignment` (a power of two) or
 * NULL; realloc behaves as C's (NULL p: alloc; size 0: free, NULL back),
 * keeping `alignment`; free takes NULL. A failure comes back as
 * EI_ERROR_OUT_OF_HOST_MEMORY with nothing leaked. GGUF readers,
 * tokenizers and samplers have no context and use malloc. The hooks get
 * `user` for the library's own blocks and `vulkan_user` (when not NULL)
 * for Vulkan's, so an app can account driver memory apart. */
typedef struct ei_allocator {
    void *user;
    void *vulkan_user;
    void *(*alloc)(void *user, size_t size, size_t alignment);
    void *(*realloc)(void *user, void *p, size_t size, size_t alignment);
    void (*free)(void *user, void *p);
} ei_allocator;

typedef struct ei_context_desc {
    /* Device choice: index into vkEnumeratePhysicalDevices, or -1 for the
     * best (discrete > integrated > virtual > CPU). */
    int device_index;
    /* Or a case-insensitive substring of the device name; NULL for none.
     * The environment variable EI_DEVICE (an index or a name) overrides
     * both when set. */
    const char *device_name;
    /* Enable the Khronos validation layer with synchronization validation;
     * messages are counted (ei_context_validation_messages) and printed to
     * stderr or given to on_validation. EI_VALIDATION=1 in the environment turns it on as well;
     * EI_VALIDATION_GPU_AV=1 adds GPU-assisted validation (shaders
     * instrumented to report out-of-bounds accesses; much slower). */
    int enable_validation;
    /* Where validation messages go instead of stderr (NULL: stderr): called
     * once a message (`error` 1 for errors, 0 for warnings) on the thread of
     * the Vulkan call that raised it, until ei_context_destroy returns. The
     * layer reports objects left alive (leaks) while ei_context_destroy
     * runs, too late for ei_context_validation_messages: count here to
     * catch those. */
    void (*on_validation)(void *user, int error, const char *message);
    void *validation_user;
    /* Capabilities (ei_feature bits) that must be present: creation fails
     * with EI_ERROR_FEATURE_NOT_PRESENT otherwise. */
    uint32_t required_features;
    /* Capabilities (ei_feature bits) to treat as absent even when present. */
    uint32_t disabled_features;
    /* Caps the bytes one storage binding may span, below the device's own
     * maxStorageBufferRange (0: the device's limit). Operations split larger
     * tensors into pieces; a small cap exercises that on any device. */
    uint64_t max_binding_bytes;
    /* Host-memory hooks (copied); NULL: the C library's malloc and free,
     * and Vulkan's own allocator. */
    const ei_allocator *host_allocator;
    /* Device memory (buffers and staging) the context may hold at once, in
     * bytes; 0: no limit but the device's. An allocation past it fails with
     * EI_ERROR_OUT_OF_DEVICE_MEMORY before Vulkan is asked, leaving the
     * context usable: an app's share of a GPU it shares, and the way tests
     * make the n-th allocation fail. */
    uint64_t device_memory_budget;
    /* Where to write the message when creation fails (there is no context
     * to ask then); may be NULL. */
    char *error;
    size_t error_size;
} ei_context_desc;

/* The defaults: best device, no validation, nothing required or masked. */
ei_context_desc ei_context_desc_default(void);

/* Creates a context with its own VkInstance and VkDevice. desc may be NULL
 * for the defaults. On failure *out is NULL and desc->error holds why. */
ei_status ei_context_create(const ei_context_desc *desc, ei_context **out);

/* Destroys what the context created (never an adopted instance, device or
 * queue). Destroy the context's buffers and recordings first. NULL is a
 * no-op. */
void ei_context_destroy(ei_context *ctx);

/* The message of the last failure in this context ("" if none). */
const char *ei_context_error(const ei_context *ctx);

/* Bytes of device memory the context's buffers hold now. */
uint64_t ei_context_device_bytes(const ei_context *ctx);

/* Validation messages (warnings and errors) seen since creation, when the
 * context enabled validation itself; 0 otherwise. */
uint32_t ei_context_validation_messages(const ei_context *ctx);

#define EI_MAX_COOPMAT_SHAPES 32

/* One supported cooperative-matrix shape: D(MxN) = A(MxK) * B(KxN) + C. */
typedef struct ei_coopmat_shape {
    uint32_t m, n, k;
    ei_dtype a_type;   /* EI_F16 or EI_BF16 inputs */
    ei_dtype acc_type; /* EI_F16 or EI_F32 accumulator */
} ei_coopmat_shape;

/* What the device is and can do, queried once at context creation. */
typedef struct ei_device_facts {
    char name[256];
    char driver[256]; /* driver name and info, as the driver reports them */
    uint32_t vendor_id, device_id;
    uint32_t device_type; /* VkPhysicalDeviceType */
    uint32_t api_version; /* VK_MAKE_API_VERSION encoding */
    uint32_t driver_version;
    uint32_t subgroup_size, min_subgroup_size, max_subgroup_size;
    uint32_t max_shared_memory; /* bytes per workgroup */
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_count[3];
    uint64_t max_storage_buffer_range;     /* bytes one binding may span */
    uint64_t min_storage_buffer_alignment; /* offset alignment of a binding */
    uint64_t device_local_bytes;           /* size of the largest device-local heap */
    float timestamp_period_ns;             /* 0 when timestamps are unsupported */
    uint32_t features;                     /* ei_feature bits present (after masking) */
    uint32_t coopmat_shape_count;
    ei_coopmat_shape coopmat_shapes[EI_MAX_COOPMAT_SHAPES];
} ei_device_facts;

/* The device facts; never NULL for a live context. */
const ei_device_facts *ei_context_facts(const ei_context *ctx);

/* ---- Buffers ---------------------------------------------------------- */

typedef struct ei_buffer ei_buffer;

/* A storage buffer of `bytes` bytes in device-local memory (host-visible
 * too on unified-memory devices). Contents are undefined until written. */
ei_status ei_buffer_create(ei_context *ctx, uint64_t bytes, ei_buffer **out);

/* A buffer in host-visible, coherent memory, mapped for its lifetime: for
 * small tensors the host writes or reads every step (token ids, logits),
 * with no staging copy or extra submission. Shaders may bind it like any
 * buffer (slower for them than device-local memory on discrete GPUs). */
ei_status ei_buffer_create_mapped(ei_context *ctx, uint64_t bytes, ei_buffer **out);

/* Frees the buffer. The caller must have waited for work that uses it.
 * NULL is a no-op. */
void ei_buffer_destroy(ei_buffer *buf);

uint64_t ei_buffer_size(const ei_buffer *buf);

/* Copies host memory into the buffer at `offset` and waits until done. */
ei_status ei_buffer_upload(ei_buffer *buf, uint64_t offset, const void *src, uint64_t bytes);

/* Copies `bytes` from the buffer at `offset` to host memory (waits). */
ei_status ei_buffer_download(ei_buffer *buf, uint64_t offset, void *dst, uint64_t bytes);

/* Fills `bytes` at `offset` (a multiple of 4) with a repeated 32-bit word,
 * and waits. Tests use it to poison outputs. */
ei_status ei_buffer_fill(ei_buffer *buf, uint64_t offset, uint64_t bytes, uint32_t word);

/* A typed view into a buffer: the element type and where element 0 lies.
 * Shapes are given by each operation. */
typedef struct ei_tensor {
    ei_buffer *buffer;
    uint64_t offset; /* bytes; a multiple of 4 */
    ei_dtype dtype;
} ei_tensor;

/* ---- Command recording ------------------------------------------------ */

typedef struct ei_cmd ei_cmd;

/* Starts a recording. Operations record their dispatches and the barriers
 * between them into it; nothing runs until ei_cmd_submit. */
ei_status ei_cmd_begin(ei_context *ctx, ei_cmd **out);

/* Ends the recording and submits it to the context's queue. */
ei_status ei_cmd_submit(ei_cmd *cmd);

/* Waits for a submitted recording to finish on the GPU. */
ei_status ei_cmd_wait(ei_cmd *cmd);

/* Submit and wait in one call. */
ei_status ei_cmd_run(ei_cmd *cmd);

/* Frees a recording (waiting first if it was submitted). NULL is a no-op. */
void ei_cmd_destroy(ei_cmd *cmd);

/* Records a GPU timestamp after all earlier work and returns its index in
 * *id (at most EI_MAX_TIMESTAMPS per recording). Needs
 * EI_FEATURE_TIMESTAMPS. */
#define EI_MAX_TIMESTAMPS 64
ei_status ei_cmd_timestamp(ei_cmd *cmd, uint32_t *id);

/* Milliseconds between two timestamps of a finished recording. */
ei_status ei_cmd_elapsed_ms(ei_cmd *cmd, uint32_t from, uint32_t to, double *ms);

/* ---- Operations: pooling (algorithm.md section 1, steps 1-3) ------------ */

/* Element-wise max and min over consecutive groups of rows, per head:
 * out_max[g][h][d] = max over rows r in [g*group, min((g+1)*group, rows))
 * of x[r][h][d], likewise out_min. The number of groups is
 * ceil(rows / group), so the last group may be ragged. With group = S over
 * the L query rows this gives Qmax/Qmin per segment; with group = b over the
 * pool_len key rows, Kmax/Kmin per block.
 *
 * x: [rows][heads][dim] in f32, f16 or bf16. out_max, out_min:
 * [groups][heads][dim] f32 (exact: max/min of converted values). dim must be
 * even; rows, heads, group > 0. Tensors larger than the device's storage
 * binding range are processed in pieces of whole groups. */
typedef struct ei_pool_desc {
    uint32_t rows;
    uint32_t heads;
    uint32_t dim;
    uint32_t group;
} ei_pool_desc;

ei_status ei_pool_minmax(ei_cmd *cmd, const ei_pool_desc *desc, ei_tensor x, ei_tensor out_max, ei_tensor out_min);

/* ---- Operations: dense flash attention -------------------------------- */

/* Shapes and options of one attention call. Q is [q_len][heads][dim], K and
 * V are [kv_len][kv_heads][dim] (the same dtype as Q), the output is
 * [q_len][heads][dim] in any float dtype. Query head h reads KV head
 * h / (heads / kv_heads) (GQA).
 *
 * Queries are end-aligned to the keys: query row i sits at key index
 * len - q_len + i, where len is the keys of its head (kv_len, or the
 * per-head length in decode). So a chunk of queries attends to a longer
 * cache (kv_len = keys before the chunk + q_len), and one decode query to
 * its whole cache. With `causal`, row i sees keys up to its own index; with
 * a `window` of w, only the last w of those (index - key < w). Scores are
 * (q . k) * scale, then softcap * tanh(score / softcap) when softcap > 0.
 * A row that sees no key gets zeros. */
typedef struct ei_attention_desc {
    uint32_t q_len;
    uint32_t kv_len;
    uint32_t heads;
    uint32_t kv_heads; /* divides heads */
    uint32_t dim;      /* 64, 80, 96, 128 or 256 */
    float scale;       /* 0: 1 / sqrt(dim) */
    int causal;
    uint32_t window; /* 0: no sliding window */
    float softcap;   /* 0: no soft-capping */
} ei_attention_desc;

/* Prefill attention: every query row against its visible keys. */
ei_status ei_attention_prefill(ei_cmd *cmd, const ei_attention_desc *desc, ei_tensor q, ei_tensor k, ei_tensor v,
                               ei_tensor out);

/* Bytes of f32 scratch that ei_attention_decode needs for desc on this
 * context (0 for an invalid desc). */
uint64_t ei_attention_decode_scratch(const ei_context *ctx, const ei_attention_desc *desc);

/* Decode attention: a few query rows (usually 1) against long caches. The
 * keys are split into chunks across workgroups, then merged in a second
 * pass, so one query keeps the whole GPU busy. kv_lens, when not NULL, is an
 * EI_U32 tensor of kv_heads lengths (each at most kv_len): head h's cache
 * holds its first kv_lens[h] rows (caches compressed per head are ragged).
 * scratch: an EI_F32 tensor of ei_attention_decode_scratch() bytes for the
 * per-split partial results. */
ei_status ei_attention_decode(ei_cmd *cmd, const ei_attention_desc *desc, ei_tensor q, ei_tensor k, ei_tensor v,
                              const ei_tensor *kv_lens, ei_tensor out, ei_tensor scratch);

/* ---- EntropyInfer prefill (algorithm.md sections 1-3 and 5) ---------- */

typedef enum ei_prefill_mode {
    EI_PREFILL_ENTROPY = 0,      /* per-head budgets from entropy (default) */
    EI_PREFILL_REFERENCE = 1,    /* the paper's code: per segment, every head gets the largest keep */
    EI_PREFILL_CRITIPREFILL = 2, /* a fixed budget of B0 for every head and segment */
    EI_PREFILL_FULL = 3          /* dense attention everywhere */
} ei_prefill_mode;

/* Every constant of the method, with the paper's configuration as defaults
 * (ei_entropy_config_default). */
typedef struct ei_entropy_config {
    ei_prefill_mode mode;
    uint32_t segment_size;  /* S = 512: query rows per segment; a multiple of block_size */
    uint32_t block_size;    /* b = 8: key rows per selectable block; a power of two */
    uint32_t threshold_len; /* 4096: segments starting before this token are dense */
    uint32_t base_budget;   /* B0 = 2048: tokens of context per segment for a rigid head */
    float e_t;              /* 1e-5: entropy threshold of a rigid head */
    float delta_t;          /* 0.4: neutral entropy-change ratio */
    float alpha;            /* 0.5: budget step gain */
    uint32_t layer_skip;    /* 1: the first layer_skip layers run dense */
    uint32_t decode_budget; /* Bd = 1024: tokens per head kept by decode compression */
    int32_t decode_gap;     /* N_d = 16: decode steps observed before compressing; -1: SnapKV */
    uint32_t window;        /* W = 32: observation queries scoring the cache */
    uint32_t pool_kernel;   /* 5: average-pooling width smoothing the key scores; odd */
    int layer_fusion;       /* 0: off; 1: P(l) = 0.25 P(l-1) + 0.75 P(l) for l >= 2 */
} ei_entropy_config;

ei_entropy_config ei_entropy_config_default(void);

/* EI_OK, or EI_ERROR_INVALID_ARGUMENT with the reason in error (may be
 * NULL): S not a multiple of b, b not a power of two, a zero or
 * non-finite constant, B0 not a multiple of b, window not below Bd, ... */
ei_status ei_entropy_config_check(const ei_entropy_config *cfg, char *error, size_t error_size);

/* The shapes one layer's prefill profile works on. */
typedef struct ei_profile_desc {
    uint32_t len;      /* L: prompt tokens */
    uint32_t heads;    /* H */
    uint32_t kv_heads; /* Hkv, divides H */
    uint32_t dim;      /* D, even */
    ei_dtype dtype;    /* the model's dtype (of Q and K): reference mode rounds to it */
    uint32_t layer;    /* the layer's index: layer_fusion blends from layer 2 on */
} ei_profile_desc;

/* Counts derived from L, S and b: nseg = ceil(L / S),
 * pool_len = (nseg - 1) * S, nblk = pool_len / b, and max_keep, the most
 * blocks any (head, segment) may select: min(3 * B0 / b, nblk). */
typedef struct ei_profile_shape {
    uint32_t nseg, pool_len, nblk, max_keep;
} ei_profile_shape;

ei_profile_shape ei_profile_shape_of(const ei_profile_desc *desc, const ei_entropy_config *cfg);

/* Observation attention and entropy (section 1, steps 4-8). From the pooled
 * summaries (ei_pool_minmax: qmax/qmin [nseg][heads][dim] over the L query
 * rows with group S; kmax/kmin [nblk][kv_heads][dim] over pool_len key rows
 * with group b, all f32) it writes
 *   scores [kv_heads][nseg][nblk] f32: the unscaled block scores A averaged
 *     over each GQA group, for the visible blocks j < s * nrep of each
 *     segment s (the rest is not written: those are masked),
 *   entropy [kv_heads][nseg] f32: E of the fp32 softmax over all nblk blocks
 *     with the masked ones at the most negative finite value (segment 0 sees
 *     nothing, so its softmax is uniform).
 * In reference mode with f16/bf16 desc->dtype, every step rounds to that
 * dtype as the paper's code does (algorithm.md section 2b), and the visible
 * scores are replaced by the rounded P, which selection then orders by.
 * (One deliberate difference: in f16, 1e-9 rounds to 0 and the paper's code
 * gets 0 * log(0) = NaN for every P that underflowed; we take 0.)
 * With cfg->layer_fusion, `fused` ([kv_heads][nseg][nblk] f32, the same
 * tensor for every layer in order) carries P from layer to layer: from
 * layer 2 on P = 0.25 P(previous) + 0.75 P, and the scores are replaced by
 * that P; otherwise fused may be NULL. Needs nseg >= 2. */
ei_status ei_observe(ei_cmd *cmd, const ei_profile_desc *desc, const ei_entropy_config *cfg, ei_tensor qmax,
                     ei_tensor qmin, ei_tensor kmax, ei_tensor kmin, ei_tensor scores, ei_tensor entropy,
                     const ei_tensor *fused);

/* Budgets from entropy (section 2, steps 1-4; the mode decides): from
 * entropy [kv_heads][nseg] f32 it writes keep [kv_heads][nseg] EI_U32
 * (blocks each (head, segment) selects, after every cap; 0 for segment 0)
 * and rigid [kv_heads] EI_U32 (1 for a rigid head). The budget recurrence
 * runs in f32 without fused multiply-adds (rounding each step to the
 * model's dtype in reference mode with f16/bf16), so a CPU doing the same
 * operations gets the same keep counts. */
ei_status ei_budgets(ei_cmd *cmd, const ei_profile_desc *desc, const ei_entropy_config *cfg, ei_tensor entropy,
                     ei_tensor keep, ei_tensor rigid);

/* Block selection (section 2, step 5): for each (head, segment s >= 1), the
 * keep[head][s] blocks j < s * nrep with the largest scores (ties: lower
 * index first), written in ascending block order to
 * selected [kv_heads][nseg][max_keep] EI_U32; entries past keep are not
 * written. Ordering by A is ordering by P = softmax(A). */
ei_status ei_select_blocks(ei_cmd *cmd, const ei_profile_desc *desc, const ei_entropy_config *cfg, ei_tensor scores,
                           ei_tensor keep, ei_tensor selected);

/* Block-sparse prefill attention (section 3), the prompt's keys [kv_len]
 * and its queries, or a chunk of its last queries starting at a segment
 * (kv_len - q_len a multiple of S); causal, no window. Per (KV head,
 * segment s of the prompt): dense, over every earlier key, when s starts
 * before threshold_len, is the last segment, keeps no block, or the layer is
 * below layer_skip (or the mode is full); otherwise each query row attends
 * to the keep[hk][s] selected blocks (read in place through the list) and
 * causally to its own segment. keep and selected as ei_budgets and
 * ei_select_blocks write them for a prompt of kv_len tokens. */
ei_status ei_attention_sparse(ei_cmd *cmd, const ei_attention_desc *desc, const ei_entropy_config *cfg, uint32_t layer,
                              ei_tensor q, ei_tensor k, ei_tensor v, ei_tensor keep, ei_tensor selected, ei_tensor out);

/* ---- EntropyInfer prefill of one layer (the methods layer) ------------ */

/* Where a layer's prefill keeps its intermediate results in the caller's
 * scratch buffer: byte offsets of each tensor (all f32 except keep, rigid
 * and selected, EI_U32; shapes as in ei_observe, ei_budgets and
 * ei_select_blocks), and the scratch size. After a recorded layer has run,
 * entropy, rigid and keep are that layer's profile (for heatmaps, stats and
 * tests). `profiled` is 0 when the layer runs dense without a profile: mode
 * full, a layer below layer_skip, or a prompt too short for any segment to be
 * sparse (the profile offsets then hold nothing). */
typedef struct ei_prefill_layout {
    ei_profile_shape shape;
    int profiled;
    uint64_t qmax, qmin, kmax, kmin, scores, entropy, keep, rigid, selected;
    uint64_t fused; /* with layer_fusion: P carried between layers (pass the same scratch to every layer, in order) */
    uint64_t bytes;
} ei_prefill_layout;

ei_status ei_prefill_layout_of(ei_context *ctx, const ei_attention_desc *desc, const ei_entropy_config *cfg,
                               uint32_t layer, ei_prefill_layout *out);

/* Records the prefill attention of layer `layer` over the whole prompt
 * (desc: q_len = kv_len = L, causal, no window; Q and K after RoPE):
 * pooling, observation, budgets and selection when the layout says
 * `profiled`, then block-sparse attention (dense where section 3 says so).
 * scratch: the buffer of at least layout.bytes, from offset 0. */
ei_status ei_prefill_layer(ei_cmd *cmd, const ei_attention_desc *desc, const ei_entropy_config *cfg, uint32_t layer,
                           ei_tensor q, ei_tensor k, ei_tensor v, ei_tensor out, ei_buffer *scratch);

/* The two halves of ei_prefill_layer, for callers that time them apart. */
ei_status ei_prefill_profile(ei_cmd *cmd, const ei_attention_desc *desc, const ei_entropy_config *cfg, uint32_t layer,
                             ei_tensor q, ei_tensor k, ei_buffer *scratch);
ei_status ei_prefill_attend(ei_cmd *cmd, const ei_attention_desc *desc, const ei_entropy_config *cfg, uint32_t layer,
                            ei_tensor q, ei_tensor k, ei_tensor v, ei_tensor out, ei_buffer *scratch);

/* ---- Operations: matrix products with weights in their GGUF type ------- */

/* Y [tokens][rows] = X [tokens][cols] . W^T in f32, W [rows][cols] stored
 * as the raw bytes of its ggml type (wtype, an ei_ggml_type of
 * entropyinfer_gguf.h: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K,
 * Q5_K, Q6_K), read in place, at byte w_offset (a multiple of 4) of w,
 * whose size must reach a whole 32-bit word past the matrix. cols must be
 * whole blocks of the type and a multiple of 4; x starts at a multiple of
 * 16 bytes. One call serves decode (tokens = 1) and prefill. */
typedef struct ei_matmul_desc {
    uint32_t rows, cols, tokens;
    uint32_t wtype;
} ei_matmul_desc;

ei_status ei_matmul(ei_cmd *cmd, const ei_matmul_desc *desc, ei_buffer *w, uint64_t w_offset, ei_tensor x, ei_tensor y);

/* A probe of the matrix units' rate (for benchmarks: the ceiling of every
 * cooperative-matrix kernel here). Records `workgroups` workgroups of 4
 * subgroups; each subgroup multiplies A by B (ab: 512 f16, two row-major
 * 16x16 matrices) into 8 f32 accumulators, `steps` times each, with no
 * other memory traffic, and stores the accumulators' sum, 256 floats, at
 * its place in out (workgroups * 1024 f32): with A all ones and B all
 * 2^-10 every element is steps / 8. *flops receives the work recorded
 * (2 * 16^3 * 8 * steps * 4 * workgroups); time it with ei_cmd_timestamp.
 * ab and out start at 16-byte offsets. EI_ERROR_FEATURE_NOT_PRESENT, recording
 * nothing, where the cooperative-matrix kernels cannot run. */
ei_status ei_coopmat_peak(ei_cmd *cmd, uint32_t workgroups, uint32_t steps, ei_tensor ab, ei_tensor out,
                          double *flops);

/* ---- Operations: the other pieces of a transformer layer (f32) --------- */

/* RMSNorm of `rows` rows of `dim`: out = x / sqrt(mean(x^2) + eps) * weight
 * (weight [dim] f32, or NULL for none). Per-head norms (QK-norm) are rows
 * of one head. out may be x. */
ei_status ei_rms_norm(ei_cmd *cmd, uint32_t rows, uint32_t dim, float eps, ei_tensor x, const ei_tensor *weight,
                      ei_tensor out);

typedef enum ei_elementwise_op {
    EI_SWIGLU = 0,     /* out = silu(a) * b (Llama, Qwen) */
    EI_GEGLU_TANH = 1, /* out = gelu_tanh(a) * b (Gemma) */
    EI_ADD = 2         /* out = a + b (residuals) */
} ei_elementwise_op;

/* n elements of f32 a and b into out (which may be a or b). */
ei_status ei_elementwise(ei_cmd *cmd, ei_elementwise_op op, uint64_t n, ei_tensor a, ei_tensor b, ei_tensor out);

/* n (even) f32 elements of x into out in out's dtype (f32, f16 or bf16,
 * rounded to nearest even): 16-bit keys, values and queries for attention. */
ei_status ei_convert(ei_cmd *cmd, uint64_t n, ei_tensor x, ei_tensor out);

/* out [rows][dim] = x + bias, the f32 row bias [dim] added to every row
 * (Qwen2's QKV biases). out may be x. */
ei_status ei_add_bias(ei_cmd *cmd, uint32_t rows, uint32_t dim, ei_tensor x, ei_tensor bias, ei_tensor out);

/* Rotary position embedding in place on x [tokens][heads][dim] f32: token t
 * at position pos0 + t; pair i < rot/2 turns by
 * pos * freq_scale * base^(-2i/rot) / factors[i] (factors: optional f32
 * [rot/2], Llama 3's rope_freqs; NULL for none). neox pairs i with
 * i + rot/2 (NeoX: Qwen, Gemma); otherwise 2i with 2i+1 (Llama). */
typedef struct ei_rope_desc {
    uint32_t tokens, heads, dim;
    uint32_t rot; /* rotated dims, even, at most dim (usually dim) */
    uint32_t pos0;
    float base;       /* e.g. 10000, 500000, 1e6 */
    float freq_scale; /* 1 without linear scaling */
    int neox;
} ei_rope_desc;

ei_status ei_rope(ei_cmd *cmd, const ei_rope_desc *desc, ei_tensor x, const ei_tensor *factors);

/* Embedding rows: out [tokens][dim] f32 = W[ids[t]] * scale, W [vocab][dim]
 * in its ggml type (as ei_matmul takes it) at byte w_offset of w; ids
 * [tokens] EI_U32 below vocab (a larger id reads the last row rather than
 * past the matrix). */
ei_status ei_embed(ei_cmd *cmd, uint32_t tokens, uint32_t dim, uint32_t vocab, uint32_t wtype, float scale,
                   ei_buffer *w, uint64_t w_offset, ei_tensor ids, ei_tensor out);

/* ---- KV cache and decode-time compression (algorithm.md section 4) ----- */

typedef struct ei_kv_cache ei_kv_cache;

typedef struct ei_kv_cache_desc {
    uint32_t capacity; /* rows each stored head can hold */
    uint32_t kv_heads; /* KV heads appended */
    uint32_t dim;
    ei_dtype dtype; /* f32, f16 or bf16 */
    /* 1, or G: store each KV head G times, one copy per query head (the
     * paper's per-query-head compression, G times the memory). */
    uint32_t expand;
    /* Observation queries kept with the cache for compression: the last
     * `window` query rows of `query_heads` heads (0, 0: none kept; then
     * ei_kv_compress takes them from the caller). */
    uint32_t window, query_heads;
} ei_kv_cache_desc;

/* A cache of one layer: keys and values [capacity][kv_heads * expand][dim]
 * and a length per stored head, all on the GPU (lengths start at 0). */
ei_status ei_kv_cache_create(ei_context *ctx, const ei_kv_cache_desc *desc, ei_kv_cache **out);
void ei_kv_cache_destroy(ei_kv_cache *cache);

/* Its tensors, for attention and for apps that fill or inspect it:
 * keys/values [capacity][heads][dim], lengths [heads] EI_U32, where heads is
 * kv_heads * expand. Writing the lengths directly (e.g. restoring a cache)
 * must keep them at most ei_kv_cache_len(). */
ei_tensor ei_kv_cache_keys(const ei_kv_cache *cache);
ei_tensor ei_kv_cache_values(const ei_kv_cache *cache);
ei_tensor ei_kv_cache_lengths(const ei_kv_cache *cache);
uint32_t ei_kv_cache_heads(const ei_kv_cache *cache);

/* The most rows any head holds, tracked on the host (no GPU read): every
 * append adds n; a compression brings it down to the budget. */
uint32_t ei_kv_cache_len(const ei_kv_cache *cache);

/* Empties the cache: every head's length to 0, no observations (waits for
 * the GPU). */
ei_status ei_kv_cache_clear(ei_kv_cache *cache);

/* Appends n rows, k and v [n][kv_heads][dim] in the cache's dtype, after
 * each head's current length. EI_ERROR_LIMIT_EXCEEDED, recording nothing,
 * when a head could pass the capacity. */
ei_status ei_kv_cache_append(ei_cmd *cmd, ei_kv_cache *cache, uint32_t n, ei_tensor k, ei_tensor v);

/* Adds n query rows [n][query_heads][dim] (the cache's dtype) to the
 * observation window, which keeps the last `window` rows (the prompt's
 * last ei_kv_prompt_observations() queries, then each decode step's). */
ei_status ei_kv_cache_observe(ei_cmd *cmd, ei_kv_cache *cache, uint32_t n, ei_tensor q);

/* Decode attention over the cache (ragged heads included): desc's kv_len,
 * kv_heads and dim come from the cache; its heads must be a multiple of the
 * stored heads. scratch as ei_attention_decode_scratch() says for that desc
 * (ei_kv_cache_attention_desc gives it). */
ei_attention_desc ei_kv_cache_attention_desc(const ei_kv_cache *cache, uint32_t q_len, uint32_t heads);
ei_status ei_kv_cache_attend(ei_cmd *cmd, ei_kv_cache *cache, const ei_attention_desc *desc, ei_tensor q, ei_tensor out,
                             ei_tensor scratch);

typedef enum ei_kv_method {
    EI_KV_FULL = 0,   /* never compress */
    EI_KV_LATENT = 1, /* once at decode step N_d + 1, scored by the last W queries (default) */
    EI_KV_SNAPKV = 2, /* right after prefill, scored by the last W prompt queries */
    EI_KV_ADAKV = 3   /* as SnapKV, the layer's budget split across heads by score */
} ei_kv_method;

typedef enum ei_gqa_scoring {
    EI_GQA_MEAN = 0, /* a KV head's score: the mean over its query heads (default) */
    EI_GQA_MAX = 1   /* ... the maximum */
} ei_gqa_scoring;

/* Whether to compress at decode step `step` (the step-th one-token forward
 * after the prompt, from 1; step 0 is the prefill itself): SnapKV and AdaKV
 * at 0, latent at N_d + 1 (decode_gap = -1 makes it SnapKV). */
int ei_kv_compress_due(const ei_entropy_config *cfg, ei_kv_method method, uint32_t step);

/* How many of the prompt's last queries to keep for scoring: latent keeps
 * max(W - N_d, 1) and then adds the first N_d decode queries; SnapKV and
 * AdaKV keep W. */
uint32_t ei_kv_prompt_observations(const ei_entropy_config *cfg, ei_kv_method method);

typedef struct ei_kv_compress_desc {
    ei_kv_method method;
    ei_gqa_scoring gqa;
    uint32_t heads; /* query heads of the observation queries */
    float scale;    /* softmax scale of the scores; 0: 1 / sqrt(dim) */
    /* AdaKV: each head first keeps its top floor(adakv_floor * (Bd - W))
     * keys; 0 means 0.2, NVIDIA kvpress's AdaKVPress alpha_safeguard. */
    float adakv_floor;
} ei_kv_compress_desc;

/* Bytes of scratch ei_kv_compress needs. */
uint64_t ei_kv_compress_scratch(const ei_kv_cache *cache, const ei_entropy_config *cfg,
                                const ei_kv_compress_desc *desc);

/* Compresses the cache once (section 4, steps 1-4): for each stored head
 * with more than Bd = decode_budget keys, scores its keys [0, len - W) by
 * softmax(obs . K^T * scale) of the W observation queries obs [W][heads][dim]
 * (cfg->window rows, the cache's dtype; query i sees the last W keys up to
 * its own index; obs.buffer NULL takes the cache's observation window,
 * which must then hold W rows), averages over the queries and combines the group's heads,
 * smooths with average pooling (cfg->pool_kernel, zeros padded and
 * counted), and keeps the top Bd - W keys (ties: lower index) plus the last W,
 * in original order, compacted in place on the GPU. AdaKV instead keeps the
 * layer's heads * (Bd - W) best keys over all heads jointly, each head's
 * top floor first (so heads end up with different lengths). Heads with at most Bd
 * keys are left as they are; with method full, or a cache of at most Bd rows,
 * nothing is recorded. */
ei_status ei_kv_compress(ei_cmd *cmd, ei_kv_cache *cache, const ei_entropy_config *cfg, const ei_kv_compress_desc *desc,
                         ei_tensor obs, ei_buffer *scratch);

EI_API_END

#endif
