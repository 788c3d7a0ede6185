#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_config (tests/fuzz/corpus_config) in the
target's encoding (fuzz_config.c): a first byte picking the parser, then its
choices. Run: python3 tests/fuzz/make_config_seeds.py tests/fuzz/corpus_config"""
import os
import struct
import sys

MODEL, ENTROPY, SAMPLER, ARGS = 0, 1, 2, 3
ARCH_KEYS = ["block_count", "embedding_length", "feed_forward_length", "context_length", "attention.head_count",
             "attention.head_count_kv", "attention.key_length", "attention.value_length",
             "attention.layer_norm_rms_epsilon", "rope.freq_base", "rope.scaling.factor", "attn_logit_softcapping",
             "final_logit_softcapping", "attention.sliding_window", "attention.scale"]
OTHER_KEYS = ["tokenizer.ggml.tokens", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]
KEYS = ARCH_KEYS + OTHER_KEYS
UINT32, FLOAT32, STRING, ARRAY, FLOAT64 = 4, 6, 8, 9, 12


def count(v):
    """fuzz_config's count(): a byte, 16 bits or 32 bits (a negative v as its 32-bit two's complement)."""
    v &= 0xFFFFFFFF
    if v < 256:
        return bytes([0, v])
    if v < 65536:
        return bytes([1]) + struct.pack("<H", v)
    return bytes([3]) + struct.pack("<I", v)


def real(v):
    """fuzz_config's real(): a multiple of 1/16 below 16, a whole number, or raw bits."""
    if v * 16 == int(v * 16) and 0 <= v < 16:
        return bytes([1, int(v * 16)])
    if v == int(v) and 0 <= v < 65536:
        return bytes([2]) + struct.pack("<H", int(v))
    return bytes([3]) + struct.pack("<f", v)


def model(arch, keys, tokens=32):
    """arch: an index of llama, qwen2, qwen3, gemma3 (4: junk); keys: (name, u32, float or ("f64", float)) pairs;
    a vocabulary of `tokens` empty strings."""
    out = bytes([MODEL, arch])
    if arch == 4:
        out += bytes([5]) + b"bert1"
    pairs = keys + [("tokenizer.ggml.tokens", None)]
    out += bytes([len(pairs)])
    for name, v in pairs:
        out += bytes([KEYS.index(name)])
        if v is None:
            out += bytes([ARRAY, STRING, 1]) + struct.pack("<H", tokens) + bytes(tokens)
        elif isinstance(v, tuple):  # ("f64", x)
            out += bytes([FLOAT64, 1]) + struct.pack("<d", v[1])
        elif isinstance(v, float):
            out += bytes([FLOAT32]) + real(v)
        else:
            out += bytes([UINT32]) + count(v)
    return out + bytes([1])  # version 3


def entropy(mode=0, S=512, b=8, threshold=4096, B0=2048, e_t=1e-5, delta_t=0.4, alpha=0.5, skip=1, Bd=1024, gap=16,
            W=32, pool=5, fusion=0, length=20000):
    return (bytes([ENTROPY, mode]) + count(S) + count(b) + count(threshold) + count(B0) + real(e_t) + real(delta_t) +
            real(alpha) + count(skip) + count(Bd) + count(gap) + count(W) + count(pool) + bytes([fusion]) +
            count(length))


def sampler(n_vocab, temperature, top_k, top_p, min_p, penalty, last_n, seed, accepted, rounds, logits):
    out = bytes([SAMPLER]) + struct.pack("<H", n_vocab - 1) + real(temperature) + count(top_k) + real(top_p)
    out += real(min_p) + real(penalty) + struct.pack("<HQ", last_n, seed) + bytes([len(accepted)])
    out += b"".join(struct.pack("<H", i) for i in accepted) + bytes([rounds - 1])
    return out + b"".join(bytes([3]) + struct.pack("<f", v) for v in logits)


def args(*argv):
    return bytes([ARGS]) + b"\0".join(a.encode() for a in argv)


LLAMA = [("block_count", 2), ("embedding_length", 256), ("feed_forward_length", 512),
         ("attention.head_count", 4), ("attention.head_count_kv", 2), ("rope.freq_base", 500000.0)]
SEEDS = {
    "model_llama": model(0, LLAMA + [("attention.layer_norm_rms_epsilon", 1e-5), ("rope.scaling.factor", 8.0)]),
    "model_qwen2": model(1, LLAMA[:5] + [("context_length", 32768), ("tokenizer.ggml.bos_token_id", 3)]),
    "model_qwen3": model(2, LLAMA[:5] + [("attention.key_length", 128), ("attention.value_length", 128)]),
    "model_gemma3": model(3, LLAMA[:4] + [("attention.head_count_kv", 1), ("attention.key_length", 64),
                                          ("attention.sliding_window", 512), ("final_logit_softcapping", 30.0),
                                          ("attention.scale", 0.0625)]),
    "model_junk": model(4, LLAMA),
    # Values the reader once let through: an epsilon beyond FLT_MAX, a scaling factor whose inverse overflows.
    "model_huge_eps": model(0, LLAMA + [("attention.layer_norm_rms_epsilon", ("f64", 1e300))]),
    "model_tiny_factor": model(0, LLAMA + [("rope.scaling.factor", 1e-40)]),
    "entropy_default": entropy(),
    "entropy_small": entropy(mode=2, S=8, b=4, threshold=8, B0=64, skip=0, Bd=40, gap=-1, W=4, pool=3, fusion=1,
                             length=100),
    "sampler_greedy": sampler(8, 0.0, 40, 0.95, 0.05, 1.0, 64, 1, [], 2, [1, 3, 2, 3, 0, -1, 2.5, 3]),
    "sampler_draw": sampler(8, 0.8, 4, 0.9, 0.05, 1.25, 16, 42, [1, 3, 3, 9], 4,
                            [1, float("inf"), 2, float("nan"), 0, -1, float("-inf"), 3]),
    # Greedy once took a NaN in first place; a +inf logit once gave the least likely candidate.
    "sampler_greedy_nan": sampler(8, 0.0, 40, 0.95, 0.05, 1.0, 64, 1, [], 1,
                                  [float("nan"), 1, 2, float("inf"), 0, 3, 2, 1]),
    "sampler_infinite": sampler(8, 0.8, 4, 0.9, 0.05, 1.0, 16, 42, [1, 3, 3, 9], 4,
                                [1, float("inf"), 2, float("nan"), 0, -1, float("-inf"), 3]),
    "args_prompt": args("-m", "model.gguf", "-p", "Hello", "-n", "16", "-c", "2048", "-b", "256", "--chat", "-s",
                        "7", "--ignore-eos"),
    "args_sampling": args("-f", "prompt.txt", "--temp", "0.7", "--top-k", "20", "--top-p", "0.9", "--min-p", "0.1",
                          "--repeat-penalty", "1.1", "--repeat-last-n", "32", "--json"),
    "args_method": args("--ids", "1,2,3", "--attn", "entropy", "--kv", "latent", "--segment", "256", "--block", "16",
                        "--threshold-len", "1024", "--base-budget", "512", "--window", "16"),
    "args_decode": args("-pHi", "--et", "1e-4", "--delta-t", "0.3", "--alpha", "0.6", "--decode-budget", "512",
                        "--decode-gap", "-1", "--validation", "--device", "0", "--dump-logits", "out.bin"),
    # -h in a cluster once left getopt's state pointing into this argv.
    "args_help": args("-f", "prompt.txt", "-hp", "x"),
}

if __name__ == "__main__":
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)
