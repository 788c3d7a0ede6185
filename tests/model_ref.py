#!/usr/bin/env python3
"""A numpy forward pass for GGUF language models of the llama, qwen2, qwen3
and gemma3 architectures: the independent oracle that tests/model_check.py
compares vkinfer's logits with. It reads the file with the `gguf` package's
reader, dequantizes with `gguf.quants.dequantize`, and shares no code with
src/.

    model_ref.py MODEL.gguf --ids 2,818,5279,529,7001,563 [-n 32] [--check-cache]
    model_ref.py --selftest

Which published definition each detail follows ("HF" is Hugging Face
transformers' modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py /
modeling_gemma3.py and configuration_gemma3.py; "llama.cpp" is its
convert_hf_to_gguf.py, which fixes the GGUF conventions, and its model
loader and ggml's rope op):

* RMSNorm: x / sqrt(mean(x^2) + eps) * w, computed here in float64 (HF
  LlamaRMSNorm / Qwen2RMSNorm / Qwen3RMSNorm). Gemma3RMSNorm multiplies by
  (1 + w) instead; llama.cpp's converter (Gemma3Model.modify_tensors) adds 1
  to every tensor whose name ends in "norm.weight", q_norm and k_norm
  included, so a GGUF's Gemma norm weights are used as they are.
* Linear layers: a GGUF weight of shape [ne1 = out rows][ne0 = in columns]
  is applied as x @ W.T (HF nn.Linear). Biases: qwen2 has them on q, k and v
  only (HF Qwen2Attention); a bias tensor is added wherever the file has one.
* RoPE angles: pos * base^(-2i/d) for pair i of a head of d dims (HF
  compute_default_rope_parameters). `rope_freqs.weight` (Llama 3) divides
  the frequency of pair i (ggml_rope_cache_init: theta / freq_factors[i]).
  `{arch}.rope.scaling.factor` with linear scaling divides the position
  (HF "linear" rope: inv_freq / factor; ggml's freq_scale = 1 / factor).
* RoPE pairs: HF rotates (i, i + d/2) (rotate_half). For llama, llama.cpp's
  converter permutes the rows of q_proj and k_proj per head
  (reshape(n_head, 2, d/2, ...).swapaxes(1, 2)) so that in the GGUF the pairs
  are adjacent, (2i, 2i + 1): ggml's "normal" rope mode. qwen2, qwen3 and
  gemma3 are not permuted and use ggml's NEOX mode, pairs (i, i + d/2).
  `--selftest` checks that the two conventions agree under that permutation.
* Pair rotation: (a, b) -> (a cos - b sin, a sin + b cos) (HF
  apply_rotary_pos_emb; ggml rotate_pairs).
* Qwen3 and Gemma 3 QK-norm: RMSNorm over each head's head_dim of q and k
  (weights of head_dim entries), after the projection and before RoPE (HF
  Qwen3Attention / Gemma3Attention).
* GQA: query head h reads KV head h // (n_head / n_head_kv) (HF repeat_kv).
* Attention: softmax((q . k) * scale) over keys j <= i (causal), in float64.
  scale = `{arch}.attention.scale` if the file has it, else 1 / sqrt(head_dim)
  (HF: head_dim**-0.5; Gemma 3: query_pre_attn_scalar**-0.5, which equals
  head_dim for every released size but 27B, and llama.cpp likewise uses
  1/sqrt(n_embd_head_k) except for 27B, for which a file would need the key).
  An optional `{arch}.attn_logit_softcapping` c maps scores to
  c * tanh(score / c) after scaling, before the mask (HF eager attention).
* Gemma 3 local layers: layer l is sliding-window (local) unless
  (l + 1) % 6 == 0 (HF Gemma3TextConfig.layer_types from
  sliding_window_pattern 6; llama.cpp set_swa_pattern(6)). On a local layer a
  query at position i sees keys j with i - j < sliding_window (HF
  sliding_window_overlay: kv_idx > q_idx - sliding_window; llama.cpp
  is_masked_swa: masked iff p1 - p0 >= n_swa). Local layers use RoPE base
  10000 (HF rope_local_base_freq; llama.cpp rope_freq_base_train_swa) and no
  rope scaling; global layers use `gemma3.rope.freq_base` and the linear
  scaling factor (llama.cpp's converter: "this rope_scaling is only applied
  for global layers"). A file without a sliding window has only global layers.
* Gemma 3 block (HF Gemma3DecoderLayer): embeddings * sqrt(n_embd) (HF
  Gemma3TextScaledWordEmbedding; exact float here, as llama.cpp's
  sqrtf(n_embd), not HF's bfloat16-rounded scale); per layer
  x += post_attention_norm(attn(attn_norm(x))),
  x += post_ffw_norm(down(gelu_tanh(gate(h)) * up(h))) with h = ffn_norm(x);
  GELU is the tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  (HF hidden_activation "gelu_pytorch_tanh").
* llama / qwen2 / qwen3 block: x += attn(attn_norm(x)); x += down(silu(gate(h))
  * up(h)) with h = ffn_norm(x) (HF LlamaDecoderLayer, LlamaMLP).
* Output: output_norm, then logits = x @ W.T with W = output.weight, or the
  tied token_embd.weight when the file has no output.weight (HF
  tie_word_embeddings). An optional `{arch}.final_logit_softcapping` c maps
  logits to c * tanh(logits / c) (HF Gemma3ForCausalLM).

Weights and activations are float64 by default (Model(dtype=np.float32),
`--f32`, halves the memory; norms, RoPE and softmax stay float64 either way).
"""
import argparse
import math
import sys
import time

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import dequantize

ARCHS = ("llama", "qwen2", "qwen3", "gemma3")
GEMMA3_SWA_PATTERN = 6
GEMMA3_LOCAL_ROPE_BASE = 10000.0


class _Reader(GGUFReader):
    """GGUFReader, parsing faster: it slices a plain ndarray view of its
    memory map instead of the np.memmap itself, whose per-slice Python
    overhead dominates the parse of a 262144-entry vocabulary (13 s -> 4 s).
    Only the header parse changes; open_gguf() falls back to the plain
    reader if this override does not fit the installed gguf version."""

    def _get(self, offset, dtype, count=1, override_order=None):
        if getattr(self, "_plain_of", None) is not self.data:
            self._plain_of, self._plain = self.data, self.data.view(np.ndarray)
        dt = np.dtype(dtype)
        count = int(count)
        arr = self._plain[offset : offset + dt.itemsize * count].view(dt)[:count]
        return arr.view(dt.newbyteorder(self.byte_order if override_order is None else override_order))


def open_gguf(path):
    try:
        return _Reader(path)
    except Exception:  # noqa: BLE001 - a gguf version whose internals differ
        return GGUFReader(path)


def field_value(reader, key, default=None):
    """A scalar or string metadata value, or default when absent."""
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


class Config:
    """Hyper-parameters, all from GGUF metadata ({arch}.* keys)."""

    def __init__(self, reader):
        self.arch = field_value(reader, "general.architecture")
        if self.arch not in ARCHS:
            raise ValueError(f"architecture {self.arch!r} is not one of {ARCHS}")
        a = self.arch

        def key(suffix, default=None):
            return field_value(reader, f"{a}.{suffix}", default)

        self.n_layer = int(key("block_count"))
        self.n_embd = int(key("embedding_length"))
        self.n_ff = int(key("feed_forward_length"))
        self.n_head = int(key("attention.head_count"))
        self.n_head_kv = int(key("attention.head_count_kv", self.n_head))
        self.head_dim = int(key("attention.key_length", self.n_embd // self.n_head))
        vdim = int(key("attention.value_length", self.head_dim))
        if vdim != self.head_dim:
            raise ValueError("key and value head dims differ")
        if self.n_head % self.n_head_kv:
            raise ValueError("n_head is not a multiple of n_head_kv")
        self.n_rot = int(key("rope.dimension_count", self.head_dim))
        self.eps = float(key("attention.layer_norm_rms_epsilon", 1e-5))
        self.rope_base = float(key("rope.freq_base", 10000.0))
        scaling_type = key("rope.scaling.type", None)
        factor = float(key("rope.scaling.factor", 1.0))
        if scaling_type not in (None, "none", "linear") and factor != 1.0:
            raise ValueError(f"rope scaling {scaling_type!r} is not supported by this reference")
        self.rope_freq_scale = 1.0 / factor if factor > 0 else 1.0
        self.attn_scale = float(key("attention.scale", 1.0 / math.sqrt(self.head_dim)))
        self.attn_softcap = float(key("attn_logit_softcapping", 0.0) or 0.0)
        self.final_softcap = float(key("final_logit_softcapping", 0.0) or 0.0)
        self.sliding_window = 0
        if a == "gemma3":
            self.sliding_window = int(key("attention.sliding_window", 0) or 0)
        self.gemma = a == "gemma3"
        self.rope_neox = a != "llama"
        self.qk_norm = a in ("qwen3", "gemma3")

    def layer_is_local(self, layer):
        return self.sliding_window > 0 and (layer + 1) % GEMMA3_SWA_PATTERN != 0

    def layer_rope(self, layer):
        """(base, freq_scale) of a layer's RoPE."""
        if self.layer_is_local(layer):
            return GEMMA3_LOCAL_ROPE_BASE, 1.0
        return self.rope_base, self.rope_freq_scale


def rms_norm(x, w, eps):
    """RMSNorm over the last axis, in float64."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope_angles(positions, n_rot, base, freq_scale, freq_factors=None):
    """Angles (n_pos, n_rot/2) in float64: pos * freq_scale * base^(-2i/n_rot) / ff[i]."""
    i = np.arange(n_rot // 2, dtype=np.float64)
    inv_freq = base ** (-2.0 * i / n_rot)
    if freq_factors is not None:
        inv_freq = inv_freq / np.asarray(freq_factors, dtype=np.float64)
    return np.asarray(positions, dtype=np.float64)[:, None] * freq_scale * inv_freq[None, :]


def apply_rope(x, angles, neox):
    """Rotate x (n_pos, heads, head_dim): its first 2 * angles.shape[1] dims,
    pairs (i, i + n_rot/2) if neox else (2i, 2i + 1)."""
    n_rot = 2 * angles.shape[1]
    cos = np.cos(angles)[:, None, :]
    sin = np.sin(angles)[:, None, :]
    out = np.array(x, dtype=np.float64)
    if neox:
        a = out[..., : n_rot // 2].copy()
        b = out[..., n_rot // 2 : n_rot].copy()
        out[..., : n_rot // 2] = a * cos - b * sin
        out[..., n_rot // 2 : n_rot] = a * sin + b * cos
    else:
        a = out[..., 0:n_rot:2].copy()
        b = out[..., 1:n_rot:2].copy()
        out[..., 0:n_rot:2] = a * cos - b * sin
        out[..., 1:n_rot:2] = a * sin + b * cos
    return out


def attention(q, k, v, q_pos, k_pos, scale, window=0, softcap=0.0):
    """q (n, H, d); k, v (T, Hkv, d); positions of the queries and keys.
    Causal softmax attention in float64; returns (n, H * d)."""
    n, n_head, d = q.shape
    n_kv = k.shape[1]
    group = n_head // n_kv
    qg = q.reshape(n, n_kv, group, d).transpose(1, 2, 0, 3)  # (Hkv, g, n, d)
    kt = k.transpose(1, 0, 2).astype(np.float64)  # (Hkv, T, d)
    vt = v.transpose(1, 0, 2).astype(np.float64)
    scores = np.einsum("kgnd,ktd->kgnt", qg, kt) * scale
    if softcap > 0:
        scores = softcap * np.tanh(scores / softcap)
    dist = q_pos[:, None] - k_pos[None, :]  # (n, T)
    visible = dist >= 0
    if window > 0:
        visible &= dist < window
    scores = np.where(visible[None, None], scores, -np.inf)
    scores -= scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    out = np.einsum("kgnt,ktd->kgnd", p, vt)  # (Hkv, g, n, d)
    return out.transpose(2, 0, 1, 3).reshape(n, n_head * v.shape[2])


class KVCache:
    """Keys (after RoPE) and values of every position seen, per layer."""

    def __init__(self, n_layer):
        self.k = [None] * n_layer
        self.v = [None] * n_layer
        self.n = 0


class Model:
    def __init__(self, path, dtype=np.float64):
        self.path = str(path)
        self.reader = open_gguf(self.path)
        self.cfg = Config(self.reader)
        self.dtype = dtype
        self.tensors = {t.name: t for t in self.reader.tensors}
        self._cache = {}
        tokens = self.reader.fields.get("tokenizer.ggml.tokens")
        self.n_vocab = len(tokens.data) if tokens is not None else None
        self.out_name = "output.weight" if "output.weight" in self.tensors else "token_embd.weight"

    # -- weights ------------------------------------------------------------
    def has(self, name):
        return name in self.tensors

    def w(self, name):
        """A tensor dequantized to float (numpy shape = reversed GGUF ne)."""
        got = self._cache.get(name)
        if got is None:
            t = self.tensors[name]
            shape = tuple(int(s) for s in reversed(t.shape))
            if t.tensor_type == GGMLQuantizationType.F32:
                got = np.asarray(t.data, dtype=np.float32).reshape(shape)
            else:
                got = dequantize(t.data, t.tensor_type).reshape(shape)
            got = np.ascontiguousarray(got, dtype=self.dtype if got.ndim == 2 else np.float64)
            self._cache[name] = got
        return got

    def opt(self, name):
        return self.w(name) if self.has(name) else None

    def linear(self, x, layer, name):
        y = x.astype(self.dtype, copy=False) @ self.w(f"blk.{layer}.{name}.weight").T
        b = self.opt(f"blk.{layer}.{name}.bias")
        if b is not None:
            y = y + b
        return y.astype(np.float64, copy=False)

    def preload(self):
        """Dequantize every tensor now (timing of the forward pass alone)."""
        for name in self.tensors:
            self.w(name)

    # -- forward --------------------------------------------------------------
    def forward(self, tokens, cache=None, last_only=False):
        """Logits (len(tokens), n_vocab), float64, of positions cache.n ...;
        appends to cache (a new one when None)."""
        c = self.cfg
        if cache is None:
            cache = KVCache(c.n_layer)
        tokens = np.asarray(tokens, dtype=np.int64)
        n = len(tokens)
        pos = np.arange(cache.n, cache.n + n)
        emb = self.w("token_embd.weight")
        if tokens.min() < 0 or tokens.max() >= emb.shape[0]:
            raise ValueError("token id out of range")
        x = emb[tokens].astype(np.float64)
        if c.gemma:
            x = x * math.sqrt(c.n_embd)
        freq_factors = self.opt("rope_freqs.weight")
        for l in range(c.n_layer):
            h = rms_norm(x, self.w(f"blk.{l}.attn_norm.weight"), c.eps)
            q = self.linear(h, l, "attn_q").reshape(n, c.n_head, c.head_dim)
            k = self.linear(h, l, "attn_k").reshape(n, c.n_head_kv, c.head_dim)
            v = self.linear(h, l, "attn_v").reshape(n, c.n_head_kv, c.head_dim)
            if c.qk_norm:
                q = rms_norm(q, self.w(f"blk.{l}.attn_q_norm.weight"), c.eps)
                k = rms_norm(k, self.w(f"blk.{l}.attn_k_norm.weight"), c.eps)
            base, freq_scale = c.layer_rope(l)
            ang = rope_angles(pos, c.n_rot, base, freq_scale, freq_factors)
            q = apply_rope(q, ang, c.rope_neox)
            k = apply_rope(k, ang, c.rope_neox)
            if cache.k[l] is None:
                cache.k[l], cache.v[l] = k, v
            else:
                cache.k[l] = np.concatenate([cache.k[l], k])
                cache.v[l] = np.concatenate([cache.v[l], v])
            k_pos = np.arange(cache.k[l].shape[0])
            window = c.sliding_window if c.layer_is_local(l) else 0
            a = attention(q, cache.k[l], cache.v[l], pos, k_pos, c.attn_scale, window, c.attn_softcap)
            o = self.linear(a, l, "attn_output")
            if c.gemma:
                o = rms_norm(o, self.w(f"blk.{l}.post_attention_norm.weight"), c.eps)
            x = x + o
            h = rms_norm(x, self.w(f"blk.{l}.ffn_norm.weight"), c.eps)
            g = self.linear(h, l, "ffn_gate")
            u = self.linear(h, l, "ffn_up")
            f = self.linear((gelu_tanh(g) if c.gemma else silu(g)) * u, l, "ffn_down")
            if c.gemma:
                f = rms_norm(f, self.w(f"blk.{l}.post_ffw_norm.weight"), c.eps)
            x = x + f
        cache.n += n
        if last_only:
            x = x[-1:]
        x = rms_norm(x, self.w("output_norm.weight"), c.eps)
        logits = (x.astype(self.dtype) @ self.w(self.out_name).T).astype(np.float64)
        if c.final_softcap > 0:
            logits = c.final_softcap * np.tanh(logits / c.final_softcap)
        return logits

    def teacher_forced(self, prompt, generated):
        """Logits rows from which generated[i] is chosen: row 0 after the
        last prompt token, row i after generated[i - 1] (full recompute)."""
        seq = list(prompt) + list(generated[:-1])
        return self.forward(seq)[len(prompt) - 1 :]

    def generate(self, prompt, n_new):
        """Greedy generation with a KV cache: (tokens, logits rows)."""
        cache = KVCache(self.cfg.n_layer)
        logits = self.forward(prompt, cache, last_only=True)[-1]
        tokens, rows = [], []
        for i in range(n_new):
            t = int(np.argmax(logits))
            tokens.append(t)
            rows.append(logits)
            if i + 1 < n_new:
                logits = self.forward([t], cache)[-1]
        return tokens, np.array(rows)

    # -- vocabulary -----------------------------------------------------------
    def vocab(self):
        f = self.reader.fields["tokenizer.ggml.tokens"]
        return [bytes(f.parts[i]).decode("utf-8", errors="replace") for i in f.data]

    def decode(self, ids):
        """Pieces joined, U+2581 as a space, <0xNN> byte tokens as bytes."""
        voc = self.vocab()
        out = bytearray()
        for i in ids:
            p = voc[i]
            if len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
                out.append(int(p[3:5], 16))
            else:
                out += p.replace("\u2581", " ").encode("utf-8")
        return out.decode("utf-8", errors="replace")


# -- self-tests ------------------------------------------------------------------
def selftest_rope_layout(rng):
    """llama.cpp's llama convention: interleaved rope on the converter's
    permuted q/k rows equals HF's rotate_half rope on the original rows."""
    n_head, d, n_in, n_pos = 3, 64, 40, 7
    w_hf = rng.standard_normal((n_head * d, n_in))
    w_gguf = w_hf.reshape(n_head, 2, d // 2, n_in).swapaxes(1, 2).reshape(w_hf.shape)
    x = rng.standard_normal((n_pos, n_in))
    ang = rope_angles(np.arange(n_pos), d, 10000.0, 1.0)
    hf = apply_rope((x @ w_hf.T).reshape(n_pos, n_head, d), ang, neox=True)
    gg = apply_rope((x @ w_gguf.T).reshape(n_pos, n_head, d), ang, neox=False)
    # The permutation maps HF's dim j of a head to GGUF's position perm[j]:
    # scores q . k are the same whichever order the dims are in.
    perm = np.arange(d).reshape(2, d // 2).T.reshape(-1)  # GGUF dim -> HF dim
    err = np.abs(hf[..., perm] - gg).max()
    assert err < 1e-12, f"rope layout: {err}"
    return err


def selftest_model(path, n_prompt, n_new):
    """Incremental decode with the KV cache equals full recompute; rows of
    generate() equal teacher-forced rows."""
    m = Model(path)
    rng = np.random.default_rng(5)
    prompt = [1] + list(rng.integers(3, m.n_vocab, size=n_prompt - 1))
    toks, rows = m.generate(prompt, n_new)
    full = m.teacher_forced(prompt, toks)
    err = np.abs(full - rows).max() / np.abs(full).max()
    assert err < 1e-12, f"{path}: cache vs recompute {err}"
    # Chunked prefill through the cache equals one pass.
    cache = KVCache(m.cfg.n_layer)
    seq = prompt + toks
    parts = [m.forward(seq[:5], cache), m.forward(seq[5:17], cache), m.forward(seq[17:], cache)]
    err2 = np.abs(np.concatenate(parts) - m.forward(seq)).max() / np.abs(full).max()
    assert err2 < 1e-12, f"{path}: chunked prefill {err2}"
    return max(err, err2)


def selftest_window(rng):
    """The sliding-window mask: a query at i sees j with 0 <= i - j < W only."""
    n, w = 9, 3
    q = rng.standard_normal((n, 1, 4))
    k = rng.standard_normal((n, 1, 4))
    one_hot = np.eye(n).reshape(n, 1, n)  # value j = one-hot j: out[i, j] = p(i sees j)
    out = attention(q, k, one_hot, np.arange(n), np.arange(n), 1.0, window=w)
    for i in range(n):
        for j in range(n):
            assert (out[i, j] > 0) == (0 <= i - j < w), (i, j)


def selftest():
    import tempfile

    import model_tiny

    rng = np.random.default_rng(1)
    print(f"rope layout (llama.cpp permute + interleaved == HF rotate_half): {selftest_rope_layout(rng):.1e}")
    selftest_window(rng)
    print("sliding-window mask: ok")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in model_tiny.write_all(tmp).items():
            err = selftest_model(path, 24, 12)
            print(f"{name}: KV-cache decode and chunked prefill vs full recompute {err:.1e}")
    print("selftest passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--ids", help="comma-separated prompt token ids")
    ap.add_argument("-n", type=int, default=32, help="tokens to generate greedily")
    ap.add_argument("--f32", action="store_true", help="float32 weights and activations in the matmuls")
    ap.add_argument("--check-cache", action="store_true", help="also compare with full recompute")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        selftest()
        return
    if not args.model or not args.ids:
        ap.error("MODEL and --ids are needed (or --selftest)")
    prompt = [int(t) for t in args.ids.split(",")]
    t0 = time.perf_counter()
    m = Model(args.model, np.float32 if args.f32 else np.float64)
    m.preload()
    t1 = time.perf_counter()
    toks, rows = m.generate(prompt, args.n)
    t2 = time.perf_counter()
    print(f"load+dequantize {t1 - t0:.2f} s; prefill {len(prompt)} + {args.n} decode steps {t2 - t1:.2f} s")
    print("tokens:", ",".join(map(str, toks)))
    print("text:", repr(m.decode(toks)))
    if args.check_cache:
        t3 = time.perf_counter()
        full = m.teacher_forced(prompt, toks)
        t4 = time.perf_counter()
        err = np.abs(full - rows).max(axis=1) / np.abs(full).max(axis=1)
        same = bool((full.argmax(axis=1) == np.array(toks)).all())
        print(f"full recompute {t4 - t3:.2f} s: max relative difference {err.max():.2e}, same argmax: {same}")
        if err.max() > (1e-4 if args.f32 else 1e-10) or not same:
            sys.exit("KV-cache decode and full recompute disagree")


if __name__ == "__main__":
    main()
