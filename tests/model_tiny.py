#!/usr/bin/env python3
"""Tiny random-weight GGUF models, one per architecture vkinfer supports,
written with the `gguf` package's GGUFWriter for tests/model_check.py:

    model_tiny.py OUT_DIR [NAME ...]      (default: every model below)

Every file is made anew from a fixed seed, so the same bytes each run. The
shapes are small but real: head_dim is one the attention kernel has (64 or
128), GQA groups of 2 and 4, a query width different from n_embd (qwen3,
gemma3), and gemma3 has 6 layers (5 local, 1 global) with a sliding window
of 12, shorter than the test's prompt. A minimal SentencePiece-style
vocabulary ("<unk>", "<s>", "</s>", the 256 byte tokens, then plain pieces)
lets a loader that needs tokenizer metadata accept the files.

Weights are N(0, 1/fan_in) so activations stay O(1); norm weights 1 + 0.1 N;
the output head is scaled so that logits have a spread of a few units and
the greedy choice has a clear margin.
"""
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter, RopeScalingType, TokenType
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import quantize

BOS, EOS, UNK = 1, 2, 0
QK_GAIN = 3.0

# name: architecture and shapes. "types" gives the ggml type of a tensor
# (by the part of its name after "blk.N."); F32 where not listed.
MODELS = {
    "llama": dict(arch="llama", n_embd=256, n_head=4, n_head_kv=2, head_dim=64, n_ff=384, n_layer=3,
                  n_vocab=384, rope_base=500000.0, eps=1e-5, rope_freqs=True, tied=False, seed=11),
    "qwen2": dict(arch="qwen2", n_embd=256, n_head=4, n_head_kv=2, head_dim=64, n_ff=320, n_layer=2,
                  n_vocab=331, rope_base=1000000.0, eps=1e-6, qkv_bias=True, tied=True, seed=15),
    "qwen3": dict(arch="qwen3", n_embd=192, n_head=4, n_head_kv=2, head_dim=64, n_ff=288, n_layer=3,
                  n_vocab=448, rope_base=1000000.0, eps=1e-6, qk_norm=True, tied=False, seed=13),
    "gemma3": dict(arch="gemma3", n_embd=256, n_head=4, n_head_kv=1, head_dim=128, n_ff=384, n_layer=6,
                   n_vocab=500, rope_base=1000000.0, eps=1e-6, qk_norm=True, tied=True, sliding_window=12,
                   rope_scale=4.0, seed=13),
    # The llama layout again with quantized weights, the types the default
    # model uses (K-quants as random blocks: gguf cannot quantize to them).
    "llama-quant": dict(arch="llama", n_embd=256, n_head=4, n_head_kv=2, head_dim=64, n_ff=512, n_layer=2,
                        n_vocab=384, rope_base=10000.0, eps=1e-5, tied=False, seed=43,
                        types={"token_embd": Q.Q8_0, "attn_q": Q.Q5_0, "attn_k": Q.Q5_0, "attn_v": Q.Q8_0,
                               "attn_output": Q.Q4_K, "ffn_gate": Q.Q4_0, "ffn_up": Q.Q4_K,
                               "ffn_down": Q.Q6_K, "output": Q.Q6_K}),
}

# Architectures the checker knows; a model name is one of MODELS.
NAMES = tuple(MODELS)


def vocabulary(n_vocab):
    """Tokens, scores and types: <unk> <s> </s>, <0x00>..<0xFF>, then pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    pieces = [c for c in letters] + ["\u2581" + c for c in letters]
    pieces += ["\u2581" + a + b for a in letters for b in letters]
    need = n_vocab - len(tokens)
    if need < 0 or need > len(pieces):
        raise ValueError("vocabulary size out of range")
    tokens += pieces[:need]
    types += [TokenType.NORMAL] * need
    scores = [0.0] * 3 + [0.0] * 256 + [-float(i) for i in range(need)]
    return tokens, scores, [int(t) for t in types]


def random_kquant(rng, rows, cols, qtype, std):
    """Rows of random K-quant blocks whose values have roughly the given std
    and mean 0: random bits, chosen half-precision scales."""
    block, size = GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if qtype == Q.Q4_K:
        # value = d * sc * q - dmin * m, sc and m 6-bit (mean ~31.5), q 4-bit (mean 7.5)
        d = (std / (31.5 * 4.6)) * rng.uniform(0.7, 1.3, size=n_blocks)
        dmin = d * 7.5
        raw[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
        raw[:, 2:4] = dmin.astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    elif qtype == Q.Q6_K:
        # value = d * scale(int8) * (q - 32), q 6-bit
        d = (std / (74.0 * 18.5)) * rng.uniform(0.7, 1.3, size=n_blocks)
        raw[:, 208:210] = d.astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    else:
        raise ValueError(qtype)
    return raw.reshape(rows, cols // block * size)


def add_weight(w, rng, name, shape, std, qtype=Q.F32, mean=0.0):
    """A tensor of numpy shape (rows, cols) = GGUF ne (cols, rows)."""
    if qtype in (Q.Q4_K, Q.Q6_K):
        w.add_tensor(name, random_kquant(rng, shape[0], shape[1], qtype, std), raw_dtype=qtype)
        return
    data = (mean + std * rng.standard_normal(shape)).astype(np.float32)
    if qtype == Q.F32:
        w.add_tensor(name, data)
    else:
        w.add_tensor(name, quantize(data, qtype), raw_dtype=qtype)


def write_model(path, name, n_ctx=256):
    spec = MODELS[name]
    a = spec["arch"]
    rng = np.random.default_rng(spec["seed"])
    types = spec.get("types", {})
    d, hd, nh, nkv, ff, nv = (spec[k] for k in ("n_embd", "head_dim", "n_head", "n_head_kv", "n_ff", "n_vocab"))
    w = GGUFWriter(str(path), a)
    w.add_name(f"tiny-{name}")
    w.add_context_length(n_ctx)
    w.add_embedding_length(d)
    w.add_block_count(spec["n_layer"])
    w.add_feed_forward_length(ff)
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(spec["eps"])
    w.add_rope_freq_base(spec["rope_base"])
    if "sliding_window" in spec:
        w.add_sliding_window(spec["sliding_window"])
    if "rope_scale" in spec:
        w.add_rope_scaling_type(RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(spec["rope_scale"])
    tokens, scores, ttypes = vocabulary(nv)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(ttypes)
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(EOS)
    w.add_unk_token_id(UNK)

    gemma = a == "gemma3"
    logit_spread = 3.5
    # Tied embeddings are the output head too. Small ones keep the input
    # token's own row from dominating the residual stream (else the model
    # just repeats a token); output_norm's gain restores the logits' spread.
    emb_std = spec.get("emb_rms", 0.5) / np.sqrt(d) if spec["tied"] else 1.0
    out_gain = logit_spread / spec.get("emb_rms", 0.5) if spec["tied"] else 1.0
    add_weight(w, rng, "token_embd.weight", (nv, d), emb_std, types.get("token_embd", Q.F32))
    if spec.get("rope_freqs"):
        # Llama 3 style: 1 for the fast pairs, up to 8 for the slow ones.
        half = hd // 2
        ramp = np.clip((np.arange(half) - half * 0.4) / (half * 0.4), 0.0, 1.0)
        w.add_tensor("rope_freqs.weight", (1.0 + 7.0 * ramp).astype(np.float32))
    for l in range(spec["n_layer"]):
        p = f"blk.{l}."

        def norm(n, size, gain=1.0):
            w.add_tensor(p + n + ".weight", (gain * (1.0 + 0.1 * rng.standard_normal(size))).astype(np.float32))

        def lin(n, rows, cols, gain=1.0):
            add_weight(w, rng, p + n + ".weight", (rows, cols), gain / np.sqrt(cols), types.get(n, Q.F32))

        norm("attn_norm", d)
        # Attention scores of a spread of about QK_GAIN: peaked enough that
        # the attention output is not just the context's average.
        lin("attn_q", nh * hd, d, 1.0 if spec.get("qk_norm") else QK_GAIN)
        lin("attn_k", nkv * hd, d)
        lin("attn_v", nkv * hd, d)
        if spec.get("qkv_bias"):
            for n, rows, std in (("attn_q", nh * hd, 0.5), ("attn_k", nkv * hd, 0.5), ("attn_v", nkv * hd, 0.1)):
                w.add_tensor(p + n + ".bias", (std * rng.standard_normal(rows)).astype(np.float32))
        if spec.get("qk_norm"):
            norm("attn_q_norm", hd, QK_GAIN)
            norm("attn_k_norm", hd)
        lin("attn_output", d, nh * hd)
        if gemma:
            norm("post_attention_norm", d)
        norm("ffn_norm", d)
        lin("ffn_gate", ff, d)
        lin("ffn_up", ff, d)
        lin("ffn_down", d, ff)
        if gemma:
            norm("post_ffw_norm", d)
    norm_w = (out_gain * (1.0 + 0.1 * rng.standard_normal(d))).astype(np.float32)
    w.add_tensor("output_norm.weight", norm_w)
    if not spec["tied"]:
        add_weight(w, rng, "output.weight", (nv, d), logit_spread / np.sqrt(d), types.get("output", Q.F32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_all(out_dir, names=NAMES):
    """Writes the named models into out_dir: {name: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {n: write_model(out / f"tiny-{n}.gguf", n) for n in names}


def prompt_ids(name, length=32):
    """A fixed prompt for a tiny model: BOS, then ids of plain pieces and
    bytes (no control tokens), from the model's seed."""
    spec = MODELS[name]
    rng = np.random.default_rng(spec["seed"] + 1000)
    return [BOS] + [int(t) for t in rng.integers(3, spec["n_vocab"], size=length - 1)]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for n, p in write_all(sys.argv[1], sys.argv[2:] or NAMES).items():
        print(n, p)
