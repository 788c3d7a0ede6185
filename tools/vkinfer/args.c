/* vkinfer's command line: llama.cpp's flags where they exist. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkinfer.h"

static const char usage[] =
    "usage: vkinfer [-m MODEL.gguf] (-p PROMPT | -f FILE | --ids N,N,...) [options]\n"
    "\n"
    "  -m, --model FILE        a GGUF model (llama, qwen2, qwen3, gemma3); default: $EI_MODEL,\n"
    "                          else the Gemma 3 270M file the README's set-up assembles\n"
    "  -p, --prompt TEXT       the prompt\n"
    "  -f, --file FILE         read the prompt from a file\n"
    "      --ids LIST          prompt token ids, comma-separated (no tokenizer, no BOS)\n"
    "      --chat              wrap the prompt in the model family's chat template\n"
    "      --ignore-eos        keep generating past an end-of-generation token\n"
    "  -n, --n-predict N       tokens to generate (default 128; -1: until end of text or a full context)\n"
    "  -c, --ctx-size N        tokens of context (default min(4096, the model's))\n"
    "  -b, --batch-size N      prompt tokens per forward pass (default 512); a method's prompt goes in\n"
    "                          one call, run layer by layer, N tokens at a time in each layer\n"
    "      --temp T            temperature (default 0.8; 0: greedy)\n"
    "      --top-k N           (default 40; 0: off)\n"
    "      --top-p P           (default 0.95; 1: off)\n"
    "      --min-p P           (default 0.05; 0: off)\n"
    "      --repeat-penalty R  (default 1: off)\n"
    "      --repeat-last-n N   tokens the penalty looks back at (default 64)\n"
    "  -s, --seed N            random seed (default: from the clock)\n"
    "      --attn MODE         the prompt's attention: full (default), entropy, reference (the paper's\n"
    "                          code), critiprefill; the methods take the whole prompt in one call\n"
    "      --kv MODE           KV cache: full (default), latent, snapkv, adakv\n"
    "      --cache-type T      the KV cache's element type: f16 (default), f32, bf16\n" VK_METHOD_USAGE
    "      --device ID         a Vulkan device: index or a part of its name (also $EI_DEVICE)\n"
    "      --validation        enable the Khronos validation layer\n"
    "      --json              print one JSON object (text, token ids, timings, memory) instead of streaming\n"
    "      --dump-logits FILE  write the f32 logits of every generated token ([n][n_vocab])\n"
    "      --stats FILE        write the prompt's prefill profile as JSON: per layer whether it ran dense,\n"
    "                          per KV head rigid or dynamic, per segment entropy and blocks kept\n"
    "  -h, --help\n";

static int bad(const char *what, const char *value) {
    fprintf(stderr, "vkinfer: error: %s: '%s'\n", what, value);
    return -1;
}

int vk_parse_args(int argc, char **argv, vk_args *a) {
    enum {
        O_IDS = 256,
        O_CHAT,
        O_TEMP,
        O_TOPK,
        O_TOPP,
        O_MINP,
        O_RPEN,
        O_RLAST,
        O_ATTN,
        O_KV,
        O_CACHE_TYPE,
        O_DEVICE,
        O_VALID,
        O_JSON,
        O_DUMP,
        O_NOEOS,
        O_STATS
    };
    static const struct option options[] = {{"model", required_argument, 0, 'm'},
                                            {"prompt", required_argument, 0, 'p'},
                                            {"file", required_argument, 0, 'f'},
                                            {"ids", required_argument, 0, O_IDS},
                                            {"chat", no_argument, 0, O_CHAT},
                                            {"n-predict", required_argument, 0, 'n'},
                                            {"ctx-size", required_argument, 0, 'c'},
                                            {"batch-size", required_argument, 0, 'b'},
                                            {"temp", required_argument, 0, O_TEMP},
                                            {"top-k", required_argument, 0, O_TOPK},
                                            {"top-p", required_argument, 0, O_TOPP},
                                            {"min-p", required_argument, 0, O_MINP},
                                            {"repeat-penalty", required_argument, 0, O_RPEN},
                                            {"repeat-last-n", required_argument, 0, O_RLAST},
                                            {"seed", required_argument, 0, 's'},
                                            {"attn", required_argument, 0, O_ATTN},
                                            {"kv", required_argument, 0, O_KV},
                                            {"cache-type", required_argument, 0, O_CACHE_TYPE},
                                            {"device", required_argument, 0, O_DEVICE},
                                            {"validation", no_argument, 0, O_VALID},
                                            {"json", no_argument, 0, O_JSON},
                                            {"dump-logits", required_argument, 0, O_DUMP},
                                            {"ignore-eos", no_argument, 0, O_NOEOS},
                                            {"stats", required_argument, 0, O_STATS},
                                            VK_METHOD_OPTIONS,
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->n_predict = 128;
    a->sampling = ei_sampler_params_default();
    a->attn = "full";
    a->kv = "full";
    a->cache_type = EI_F16;
    a->method = ei_entropy_config_default();
    opterr = 0;
    /* 0, not 1: glibc, musl and the BSDs then also reset getopt's hidden
     * state (a half-read "-hp", where argv was permuted), which an earlier
     * call may have left pointing into its argv. */
    optind = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "m:p:f:n:c:b:s:h", options, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'p': a->prompt = optarg; break;
        case 'f': a->prompt_file = optarg; break;
        case O_IDS: a->ids = optarg; break;
        case O_CHAT: a->chat = 1; break;
        case O_NOEOS: a->ignore_eos = 1; break;
        case 'n':
            if (!vk_to_long(optarg, -1, 1 << 24, &v)) return bad("-n takes -1 or a count of tokens", optarg);
            a->n_predict = (int)v;
            break;
        case 'c':
            if (!vk_to_long(optarg, 1, 1 << 24, &v)) return bad("-c takes a positive count of tokens", optarg);
            a->n_ctx = (uint32_t)v;
            break;
        case 'b':
            if (!vk_to_long(optarg, 1, 1 << 16, &v)) return bad("-b takes 1..65536 tokens", optarg);
            a->n_batch = (uint32_t)v;
            break;
        case O_TEMP:
            if (!vk_to_float(optarg, &a->sampling.temperature) || a->sampling.temperature < 0)
                return bad("--temp takes a number >= 0", optarg);
            break;
        case O_TOPK:
            if (!vk_to_long(optarg, 0, 1L << 30, &v)) return bad("--top-k takes a count >= 0", optarg);
            a->sampling.top_k = (uint32_t)v;
            break;
        case O_TOPP:
            if (!vk_to_float(optarg, &a->sampling.top_p) || a->sampling.top_p < 0 || a->sampling.top_p > 1)
                return bad("--top-p takes a number in [0, 1]", optarg);
            break;
        case O_MINP:
            if (!vk_to_float(optarg, &a->sampling.min_p) || a->sampling.min_p < 0 || a->sampling.min_p > 1)
                return bad("--min-p takes a number in [0, 1]", optarg);
            break;
        case O_RPEN:
            if (!vk_to_float(optarg, &a->sampling.repeat_penalty) || a->sampling.repeat_penalty <= 0)
                return bad("--repeat-penalty takes a number > 0", optarg);
            break;
        case O_RLAST:
            if (!vk_to_long(optarg, 0, 1 << 20, &v)) return bad("--repeat-last-n takes a count >= 0", optarg);
            a->sampling.repeat_last_n = (uint32_t)v;
            break;
        case 's': {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end) return bad("--seed takes a non-negative integer", optarg);
            a->sampling.seed = seed;
            a->seed_given = 1;
            break;
        }
        case O_ATTN:
            if (strcmp(optarg, "full") && strcmp(optarg, "entropy") && strcmp(optarg, "reference") &&
                strcmp(optarg, "critiprefill"))
                return bad("--attn takes full, entropy, reference or critiprefill", optarg);
            a->attn = optarg;
            break;
        case O_KV:
            if (strcmp(optarg, "full") && strcmp(optarg, "latent") && strcmp(optarg, "snapkv") &&
                strcmp(optarg, "adakv"))
                return bad("--kv takes full, latent, snapkv or adakv", optarg);
            a->kv = optarg;
            break;
        case O_CACHE_TYPE:
            if (!strcmp(optarg, "f16"))
                a->cache_type = EI_F16;
            else if (!strcmp(optarg, "f32"))
                a->cache_type = EI_F32;
            else if (!strcmp(optarg, "bf16"))
                a->cache_type = EI_BF16;
            else
                return bad("--cache-type takes f16, f32 or bf16", optarg);
            break;
        case O_DEVICE: a->device = optarg; break;
        case O_VALID: a->validation = 1; break;
        case O_JSON: a->json = 1; break;
        case O_DUMP: a->dump_logits = optarg; break;
        case O_STATS: a->stats = optarg; break;
        case 'h': fputs(usage, stdout); return 1;
        default:
            if (vk_method_flag("vkinfer", c, optarg, argv[optind - 1], &a->method)) return -1;
            break;
        }
    }
    if (optind < argc) return bad("unexpected argument", argv[optind]);
    if (!!a->prompt + !!a->prompt_file + !!a->ids != 1) {
        fprintf(stderr, "vkinfer: error: give exactly one of -p, -f and --ids (see --help)\n");
        return -1;
    }
    char error[256];
    if (ei_entropy_config_check(&a->method, error, sizeof error) != EI_OK) {
        fprintf(stderr, "vkinfer: error: %s\n", error);
        return -1;
    }
    if (a->ids && a->chat) {
        fprintf(stderr, "vkinfer: error: --chat needs a text prompt (-p or -f), not --ids\n");
        return -1;
    }
    return 0;
}
