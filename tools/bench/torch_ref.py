#!/usr/bin/env python3
"""Times PyTorch's scaled_dot_product_attention on the shapes ei-bench uses,
so both are measured on one GPU in one session and the ratio is honest.

    python3 tools/bench/torch_ref.py --op attn|decode [--len N | --sweep]
        [--heads H] [--kv-heads Hkv] [--dim D] [--dtype f16|bf16|f32] [--reps R]
    python3 tools/bench/torch_ref.py --op matmul --rows R --cols C --len N
    python3 tools/bench/torch_ref.py --op flex --len N [--keep-blocks K]

matmul (impl "torch_matmul"): torch.matmul of N tokens [N][C] by a weight
[C][R], both f16 (ei-bench --op matmul: an F16 weight, f32 activations it
rounds to f16), TFLOP/s counted as 2*R*C*N.

flex (impl "torch_flex"): flex_attention (compiled) with the block-sparse
pattern of EntropyInfer's prefill (algorithm.md section 3): segments of 512
queries that start before 4096 and the last one dense; every other segment
attends to its own keys causally and to K random 8-key blocks before it,
chosen per KV head and segment (K = ei-bench's mean keep, for equal
density). Its block mask is built from that pattern at flex's 128 x 128
tiles; "density" is the attended share of causal query-key pairs,
"tile_density" the share of causal tiles flex computes.

Prints one JSON object per case, with the fields ei-bench --json prints
(impl is "torch_sdpa"). attn: causal prefill, TFLOP/s counted as
4*H*D*N^2/2. decode: one query over N keys, GB/s of K and V read. The time
is the median of R runs, each between two CUDA events, after a warm-up."""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}


def median_ms(run, reps):
    run()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def time_case(op, n, heads, kv_heads, dim, dtype, reps):
    lq = 1 if op == "decode" else n
    dev = "cuda"
    # SDPA's layout is [batch][head][token][dim].
    q = torch.randn(1, heads, lq, dim, device=dev, dtype=dtype)
    k = torch.randn(1, kv_heads, n, dim, device=dev, dtype=dtype)
    v = torch.randn(1, kv_heads, n, dim, device=dev, dtype=dtype)
    return median_ms(
        lambda: F.scaled_dot_product_attention(q, k, v, is_causal=(op == "attn"), enable_gqa=heads != kv_heads), reps)


def time_matmul(n, rows, cols, reps):
    x = torch.randn(n, cols, device="cuda", dtype=torch.float16)
    w = torch.randn(cols, rows, device="cuda", dtype=torch.float16)
    return median_ms(lambda: torch.matmul(x, w), reps)


def time_flex(n, heads, kv_heads, dim, dtype, reps, keep, segment=512, block=8, threshold=4096):
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    dev = "cuda"
    nseg, nblk = (n + segment - 1) // segment, n // block
    g = torch.Generator(device=dev).manual_seed(1)
    # keep random blocks before each segment: the keep smallest of random keys among the visible blocks.
    r = torch.rand(kv_heads, nseg, nblk, device=dev, generator=g)
    visible = torch.arange(nblk, device=dev)[None, :] < (torch.arange(nseg, device=dev) * (segment // block))[:, None]
    r = torch.where(visible[None], r, 2.0)
    picked = torch.zeros(kv_heads, nseg, nblk, dtype=torch.bool, device=dev)
    picked.scatter_(2, r.topk(min(keep, nblk), dim=2, largest=False).indices, True)
    picked &= visible[None]
    group = heads // kv_heads

    def mask_mod(b, h, q, kv):
        seg = q // segment
        dense = (seg * segment < threshold) | (seg == nseg - 1)
        return (kv <= q) & (dense | (kv >= seg * segment) | picked[h // group, seg, kv // block])

    bm = create_block_mask(mask_mod, 1, heads, n, n, device=dev, _compile=True)
    q = torch.randn(1, heads, n, dim, device=dev, dtype=dtype)
    k = torch.randn(1, kv_heads, n, dim, device=dev, dtype=dtype)
    v = torch.randn(1, kv_heads, n, dim, device=dev, dtype=dtype)
    flex = torch.compile(flex_attention)
    ms = median_ms(lambda: flex(q, k, v, block_mask=bm, enable_gqa=group > 1), reps)
    # Attended causal pairs: dense segments' rows see row + 1 keys; sparse rows their segment's keys so far
    # and the picked blocks.
    rows = torch.arange(n, device=dev, dtype=torch.float64)
    seg = torch.div(rows, segment, rounding_mode="floor")
    dense = (seg * segment < threshold) | (seg == nseg - 1)
    kept = picked.sum(2).double().mean(0)[seg.long()] * block
    attended = torch.where(dense, rows + 1, rows - seg * segment + 1 + kept).sum().item()
    tiles = (n + 127) // 128
    causal_tiles = tiles * (tiles + 1) / 2
    computed = bm.kv_num_blocks.sum().item() + (bm.full_kv_num_blocks.sum().item() if bm.full_kv_num_blocks is not None else 0)
    return ms, attended / (n * (n + 1) / 2), computed / heads / causal_tiles, picked.sum(2).double().mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--op", choices=["attn", "decode", "matmul", "flex"], default="attn")
    p.add_argument("--keep-blocks", type=int, default=256, help="flex: 8-key blocks per sparse segment")
    p.add_argument("--rows", type=int, default=4096)
    p.add_argument("--cols", type=int, default=4096)
    p.add_argument("--len", type=int, default=4096)
    p.add_argument("--sweep", action="store_true", help="N = 1K, 2K, ... 128K")
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--kv-heads", type=int, default=8)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--dtype", choices=DTYPES, default="f16")
    p.add_argument("--reps", type=int, default=9)
    a = p.parse_args()
    lengths = [1024 << i for i in range(8)] if a.sweep else [a.len]
    device = torch.cuda.get_device_name()
    if a.op == "matmul":
        for n in lengths:
            ms = time_matmul(n, a.rows, a.cols, a.reps)
            print(json.dumps({"impl": "torch_matmul", "op": "matmul", "len": n, "rows": a.rows, "cols": a.cols,
                              "dtype": "f16", "reps": a.reps, "ms": ms, "tflops": 2.0 * a.rows * a.cols * n / ms * 1e-9,
                              "device": device, "torch": torch.__version__}), flush=True)
        return
    if a.op == "flex":
        for n in lengths:
            ms, density, tile_density, keep = time_flex(n, a.heads, a.kv_heads, a.dim, DTYPES[a.dtype], a.reps,
                                                        a.keep_blocks)
            print(json.dumps({"impl": "torch_flex", "op": "flex", "len": n, "heads": a.heads, "kv_heads": a.kv_heads,
                              "dim": a.dim, "dtype": a.dtype, "reps": a.reps, "ms": ms, "keep_blocks": keep,
                              "density": density, "tile_density": tile_density, "device": device,
                              "torch": torch.__version__}), flush=True)
        return
    for n in lengths:
        try:
            ms = time_case(a.op, n, a.heads, a.kv_heads, a.dim, DTYPES[a.dtype], a.reps)
        except torch.cuda.OutOfMemoryError:
            print(json.dumps({"impl": "torch_sdpa", "op": a.op, "len": n, "error": "out of memory"}))
            break
        row = {"impl": "torch_sdpa", "op": a.op, "len": n, "heads": a.heads, "kv_heads": a.kv_heads,
               "dim": a.dim, "dtype": a.dtype, "reps": a.reps, "ms": ms, "device": device,
               "torch": torch.__version__}
        if a.op == "attn":
            row["tflops"] = 4.0 * a.heads * a.dim * n * n / 2.0 / ms * 1e-9
        else:
            row["gbps"] = 2.0 * n * a.kv_heads * a.dim * torch.finfo(DTYPES[a.dtype]).bits / 8 / ms * 1e-6
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
