#!/usr/bin/env python3
"""Independent oracle for tests/ref/quant.c: random blocks of every ggml
type the reference knows, dequantized by the gguf package (numpy), written
for test_quant to compare with.

    quant_oracle.py OUT_FILE [SEED]

Each record: u32 type, u64 block count, the raw blocks, then the expected
float32 values."""
import struct
import sys

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf.quants import dequantize

# Byte offsets of the f16 scale fields in each block: random bytes there
# could be NaN or infinite, so they get finite random halves instead.
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def main():
    out, seed = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = np.random.default_rng(seed)
    with open(out, "wb") as f:
        for qtype, fields in HALF_FIELDS.items():
            block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
            blocks = 64
            raw = rng.integers(0, 256, size=(blocks, block_bytes), dtype=np.uint8)
            for at in fields:
                halves = rng.uniform(-2.0, 2.0, size=blocks).astype(np.float16)
                raw[:, at:at + 2] = halves.view(np.uint8).reshape(blocks, 2)
            expected = dequantize(raw.reshape(-1), qtype).astype(np.float32).reshape(-1)
            assert expected.size == blocks * block_elems
            f.write(struct.pack("<IQ", int(qtype), blocks))
            f.write(raw.tobytes())
            f.write(expected.tobytes())


if __name__ == "__main__":
    main()
