/* ei-eval's command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

static const char usage[] =
    "usage: ei-eval TASK [-m MODEL.gguf] [options]          TASK: passkey, kv or needle\n"
    "       ei-eval heatmap (--stats FILE | [-m MODEL.gguf] -f PROMPT_FILE [--attn MODE]) --out DIR\n"
    "\n"
    "Tasks (generated from a seed, no downloads; plain completion prompts, greedy decoding, exact match):\n"
    "  passkey  a 5-digit pass key among repeated noise sentences\n"
    "  kv       the value of an 8-hex-digit key among JSON-like key-value pairs\n"
    "  needle   a 7-digit magic number for a named key among shuffled filler sentences\n"
    "Each method runs the whole prompt in one call; one model serves every run.\n"
    "\n"
    "  -m, --model FILE        a GGUF model; default: $EI_MODEL, else the default model\n"
    "      --len N,N,...       prompt lengths in tokens, at most (default 2048)\n"
    "      --depths P,P,...    needle depths, percent of the haystack before it (default 0,25,50,75,100)\n"
    "      --samples K         prompts per (length, depth), each from its own seed (default 3)\n"
    "      --seed N            the first sample's seed (default 1)\n"
    "      --gen N             most tokens generated per answer (default 16)\n"
    "      --methods M,M       prompt attention: full, entropy, reference, critiprefill (default full,entropy)\n"
    "      --kv K,K            KV cache: full, latent, snapkv, adakv (default full); every method with every kv\n"
    "      --configs A/K,...   these attention/kv pairs instead, e.g. full/full,entropy/snapkv\n"
    "      --time-limit S      start no (sample, length) after S seconds (the JSON marks runs not done)\n"
    "      --json FILE         every run and the accuracies as JSON\n" VK_METHOD_USAGE
    "      --device ID         a Vulkan device: index or a part of its name (also $EI_DEVICE)\n"
    "      --validation        enable the Khronos validation layer\n"
    "\n"
    "heatmap: DIR/layer_NN.png for each profiled layer: entropy per KV head (rows) and segment\n"
    "(columns), viridis, from 0 to the largest entropy past segment 0 (under the colour bar; segment 0\n"
    "sees no block, its uniform entropy is drawn in the top colour); DIR/rigid.png: layers\n"
    "(rows) x KV heads, orange rigid, blue dynamic, grey dense; with -f also DIR/stats.json.\n"
    "      --stats FILE        a vkinfer --stats JSON; or\n"
    "  -f, --file FILE         a prompt to run with --attn MODE (default entropy) and the method's constants\n"
    "      --out DIR           an existing folder\n"
    "  -h, --help\n";

static int bad(const char *what, const char *value) {
    fprintf(stderr, "ei-eval: error: %s: '%s'\n", what, value);
    return -1;
}

static const char *const attn_names[] = {"entropy", "reference", "critiprefill", "full"};
static const char *const kv_names[] = {"full", "latent", "snapkv", "adakv"};

const char *ee_attn_name(ei_prefill_mode m) { return (unsigned)m < 4 ? attn_names[m] : "?"; }
const char *ee_kv_name(ei_kv_method k) { return (unsigned)k < 4 ? kv_names[k] : "?"; }

/* The index of `name` in names[4], or -1. */
static int lookup(const char *const names[4], const char *name, size_t len) {
    for (int i = 0; i < 4; i++)
        if (strlen(names[i]) == len && !strncmp(names[i], name, len)) return i;
    return -1;
}

/* Comma-separated whole numbers in [min, max]; 0 when s is not such a list. */
static int numbers(const char *s, long min, long max, uint32_t *out, uint32_t *n) {
    *n = 0;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || (*end && *end != ',') || v < min || v > max || *n == EE_MAX_LIST) return 0;
        out[(*n)++] = (uint32_t)v;
        if (!*end) return 1;
        s = end + 1;
    }
}

/* Comma-separated names of names[4] into idx; 0 when one is unknown. */
static int names_list(const char *s, const char *const names[4], int *idx, uint32_t *n) {
    *n = 0;
    for (;;) {
        size_t len = strcspn(s, ",");
        int i = lookup(names, s, len);
        if (i < 0 || *n == 4) return 0;
        idx[(*n)++] = i;
        if (!s[len]) return 1;
        s += len + 1;
    }
}

/* attn/kv pairs. */
static int configs_list(const char *s, ee_args *a) {
    a->n_configs = 0;
    for (;;) {
        size_t len = strcspn(s, ","), slash = strcspn(s, "/");
        if (slash >= len || a->n_configs == EE_MAX_LIST) return 0;
        int attn = lookup(attn_names, s, slash), kv = lookup(kv_names, s + slash + 1, len - slash - 1);
        if (attn < 0 || kv < 0) return 0;
        a->configs[a->n_configs++] = (ee_config){(ei_prefill_mode)attn, (ei_kv_method)kv};
        if (!s[len]) return 1;
        s += len + 1;
    }
}

static int parse_command(const char *word, ee_args *a) {
    if (!strcmp(word, "heatmap")) return a->heatmap = 1;
    for (int t = 0; t < EE_TASK_COUNT; t++)
        if (!strcmp(word, ee_task_name((ee_task)t))) {
            a->task = (ee_task)t;
            return 1;
        }
    return 0;
}

int ee_parse_args(int argc, char **argv, ee_args *a) {
    enum {
        O_LEN = 256,
        O_DEPTHS,
        O_SAMPLES,
        O_SEED,
        O_GEN,
        O_METHODS,
        O_KV,
        O_CONFIGS,
        O_TIME,
        O_JSON,
        O_DEVICE,
        O_VALID,
        O_STATS,
        O_OUT,
        O_ATTN
    };
    static const struct option options[] = {{"model", required_argument, 0, 'm'},
                                            {"file", required_argument, 0, 'f'},
                                            {"len", required_argument, 0, O_LEN},
                                            {"depths", required_argument, 0, O_DEPTHS},
                                            {"samples", required_argument, 0, O_SAMPLES},
                                            {"seed", required_argument, 0, O_SEED},
                                            {"gen", required_argument, 0, O_GEN},
                                            {"methods", required_argument, 0, O_METHODS},
                                            {"kv", required_argument, 0, O_KV},
                                            {"configs", required_argument, 0, O_CONFIGS},
                                            {"time-limit", required_argument, 0, O_TIME},
                                            {"json", required_argument, 0, O_JSON},
                                            {"device", required_argument, 0, O_DEVICE},
                                            {"validation", no_argument, 0, O_VALID},
                                            {"stats", required_argument, 0, O_STATS},
                                            {"out", required_argument, 0, O_OUT},
                                            {"attn", required_argument, 0, O_ATTN},
                                            VK_METHOD_OPTIONS,
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->lengths[0] = 2048, a->n_lengths = 1;
    static const uint32_t depths[] = {0, 25, 50, 75, 100};
    memcpy(a->depths, depths, sizeof depths), a->n_depths = 5;
    a->samples = 3, a->seed = 1, a->gen = 16;
    a->method = ei_entropy_config_default();
    a->heat_attn = EI_PREFILL_ENTROPY;
    int methods[4] = {EI_PREFILL_FULL, EI_PREFILL_ENTROPY}, kvs[4] = {EI_KV_FULL};
    uint32_t n_methods = 2, n_kvs = 1;
    int command = argc >= 2 && argv[1][0] != '-';
    if (command && !parse_command(argv[1], a)) return bad("unknown command (passkey, kv, needle or heatmap)", argv[1]);
    /* The options after the command; optind 0 also resets getopt's state
     * (see vkinfer's args.c). */
    argc -= command, argv += command;
    opterr = 0;
    optind = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "m:f:h", options, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'f': a->prompt_file = optarg; break;
        case O_LEN:
            if (!numbers(optarg, 1, 1 << 24, a->lengths, &a->n_lengths))
                return bad("--len takes up to 16 positive token counts", optarg);
            break;
        case O_DEPTHS:
            if (!numbers(optarg, 0, 100, a->depths, &a->n_depths))
                return bad("--depths takes up to 16 percentages", optarg);
            break;
        case O_SAMPLES:
            if (!vk_to_long(optarg, 1, 1000, &v)) return bad("--samples takes 1..1000", optarg);
            a->samples = (uint32_t)v;
            break;
        case O_SEED:
            if (!vk_to_long(optarg, 0, 1L << 30, &v)) return bad("--seed takes a non-negative integer", optarg);
            a->seed = (uint64_t)v;
            break;
        case O_GEN:
            if (!vk_to_long(optarg, 1, 256, &v)) return bad("--gen takes 1..256", optarg);
            a->gen = (uint32_t)v;
            break;
        case O_METHODS:
            if (!names_list(optarg, attn_names, methods, &n_methods))
                return bad("--methods takes full, entropy, reference, critiprefill", optarg);
            break;
        case O_KV:
            if (!names_list(optarg, kv_names, kvs, &n_kvs))
                return bad("--kv takes full, latent, snapkv, adakv", optarg);
            break;
        case O_CONFIGS:
            if (!configs_list(optarg, a)) return bad("--configs takes up to 16 ATTN/KV pairs", optarg);
            break;
        case O_TIME: {
            float s;
            if (!vk_to_float(optarg, &s) || s < 0) return bad("--time-limit takes seconds >= 0", optarg);
            a->time_limit = s;
            break;
        }
        case O_JSON: a->json = optarg; break;
        case O_DEVICE: a->device = optarg; break;
        case O_VALID: a->validation = 1; break;
        case O_STATS: a->stats = optarg; break;
        case O_OUT: a->out_dir = optarg; break;
        case O_ATTN: {
            int m = lookup(attn_names, optarg, strlen(optarg));
            if (m < 0) return bad("--attn takes full, entropy, reference or critiprefill", optarg);
            a->heat_attn = (ei_prefill_mode)m;
            break;
        }
        case 'h': fputs(usage, stdout); return 1;
        default:
            if (vk_method_flag("ei-eval", c, optarg, argv[optind - 1], &a->method)) return -1;
            break;
        }
    }
    if (optind < argc) return bad("unexpected argument", argv[optind]);
    if (!command) {
        fprintf(stderr, "ei-eval: error: give a command: passkey, kv, needle or heatmap (see --help)\n");
        return -1;
    }
    char error[256];
    if (ei_entropy_config_check(&a->method, error, sizeof error) != EI_OK) {
        fprintf(stderr, "ei-eval: error: %s\n", error);
        return -1;
    }
    if (a->heatmap && (!a->out_dir || !a->stats == !a->prompt_file)) {
        fprintf(stderr, "ei-eval: error: heatmap takes --out and one of --stats and -f (see --help)\n");
        return -1;
    }
    if (!a->n_configs)
        for (uint32_t i = 0; i < n_methods; i++)
            for (uint32_t k = 0; k < n_kvs; k++)
                a->configs[a->n_configs++] = (ee_config){(ei_prefill_mode)methods[i], (ei_kv_method)kvs[k]};
    return 0;
}
