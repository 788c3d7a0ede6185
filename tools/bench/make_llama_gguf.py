#!/usr/bin/env python3
"""Writes a Llama-shaped GGUF (v3) with random F16 weights, for timing long
prompts where no real long-context model is at hand; numpy only (the GPU
machine has no `gguf` package). Default shape: Llama-3-8B (32 layers, 4096
wide, 32/8 heads of 128, FFN 14336, vocabulary 128256, context 131072),
about 16 GB. The vocabulary is an SPM one: the filler sentence's words,
byte tokens and placeholders, so text prompts tokenize (about ten tokens a
sentence, as with real models). Weights repeat one random block (the
numbers are for speed, not meaning). Never committed; write it where it
runs:
    python3 tools/bench/make_llama_gguf.py /tmp/llama8b.gguf [--layers N ...]
"""
import argparse
import struct

import numpy as np

STRING, UINT32, FLOAT32, BOOL, ARRAY, INT32 = 8, 4, 6, 7, 9, 5
F32, F16 = 0, 1
ALIGN = 32
WORDS = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]


def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = s(key) + struct.pack("<I", vtype)
    if vtype == STRING:
        return out + s(value)
    if vtype == ARRAY:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        if etype == STRING:
            return out + b"".join(s(i) for i in items)
        fmt = {FLOAT32: "<f", INT32: "<i"}[etype]
        return out + b"".join(struct.pack(fmt, i) for i in items)
    return out + struct.pack({UINT32: "<I", FLOAT32: "<f", BOOL: "<?"}[vtype], value)


def vocabulary(n):
    """<unk>, <s>, </s>, 256 byte tokens, every prefix of the filler's words
    (SPM merges pairs that are in the vocabulary, longer pieces scoring
    higher), then placeholders; token types and scores."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0] * len(tokens)
    pieces = {"."}
    for w in WORDS:
        word = "\u2581" + w
        pieces.update(word[:i] for i in range(1, len(word) + 1))
        pieces.update(word[i:i + 1] for i in range(len(word)))
    for piece in sorted(pieces, key=lambda p: (len(p), p)):
        tokens.append(piece)
        types.append(1)
        scores.append(float(len(piece)))
    while len(tokens) < n:
        tokens.append(f"\u2581tok{len(tokens)}")
        types.append(1)
        scores.append(-1.0)
    return tokens, types, scores


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--embd", type=int, default=4096)
    ap.add_argument("--ff", type=int, default=14336)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=128256)
    ap.add_argument("--ctx", type=int, default=131072)
    a = ap.parse_args()
    hd = a.embd // a.heads
    tensors = [("token_embd.weight", (a.embd, a.vocab), F16), ("output_norm.weight", (a.embd,), F32),
               ("output.weight", (a.embd, a.vocab), F16)]
    for layer in range(a.layers):
        p = f"blk.{layer}."
        tensors += [(p + "attn_norm.weight", (a.embd,), F32), (p + "attn_q.weight", (a.embd, a.embd), F16),
                    (p + "attn_k.weight", (a.embd, a.kv_heads * hd), F16),
                    (p + "attn_v.weight", (a.embd, a.kv_heads * hd), F16),
                    (p + "attn_output.weight", (a.embd, a.embd), F16), (p + "ffn_norm.weight", (a.embd,), F32),
                    (p + "ffn_gate.weight", (a.embd, a.ff), F16), (p + "ffn_up.weight", (a.embd, a.ff), F16),
                    (p + "ffn_down.weight", (a.ff, a.embd), F16)]
    tokens, types, scores = vocabulary(a.vocab)
    meta = [kv("general.architecture", STRING, "llama"), kv("general.alignment", UINT32, ALIGN),
            kv("llama.block_count", UINT32, a.layers), kv("llama.embedding_length", UINT32, a.embd),
            kv("llama.feed_forward_length", UINT32, a.ff), kv("llama.context_length", UINT32, a.ctx),
            kv("llama.attention.head_count", UINT32, a.heads), kv("llama.attention.head_count_kv", UINT32, a.kv_heads),
            kv("llama.rope.freq_base", FLOAT32, 500000.0),
            kv("llama.attention.layer_norm_rms_epsilon", FLOAT32, 1e-5),
            kv("tokenizer.ggml.model", STRING, "llama"), kv("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
            kv("tokenizer.ggml.scores", ARRAY, (FLOAT32, scores)),
            kv("tokenizer.ggml.token_type", ARRAY, (INT32, types)),
            kv("tokenizer.ggml.bos_token_id", UINT32, 1), kv("tokenizer.ggml.eos_token_id", UINT32, 2),
            kv("tokenizer.ggml.unknown_token_id", UINT32, 0)]
    infos, offset = [], 0
    for name, shape, dtype in tensors:
        infos.append(s(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape) +
                     struct.pack("<IQ", dtype, offset))
        size = int(np.prod(shape)) * (2 if dtype == F16 else 4)
        offset += (size + ALIGN - 1) // ALIGN * ALIGN
    rng = np.random.default_rng(0)
    block = (rng.standard_normal(1 << 24) * 0.02).astype(np.float16).tobytes()  # 32 MiB
    with open(a.out, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)))
        f.write(b"".join(meta) + b"".join(infos))
        f.write(b"\0" * (-f.tell() % ALIGN))
        for name, shape, dtype in tensors:
            size = int(np.prod(shape)) * (2 if dtype == F16 else 4)
            if dtype == F32:  # norms: ones
                f.write(np.ones(shape, np.float32).tobytes())
            else:
                for at in range(0, size, len(block)):
                    f.write(block[:min(len(block), size - at)])
            f.write(b"\0" * (-size % ALIGN))
    print(f"{a.out}: {len(tensors)} tensors, {offset / 1e9:.2f} GB of weights")


if __name__ == "__main__":
    main()
