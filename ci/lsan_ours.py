#!/usr/bin/env python3
"""Fails if LeakSanitizer's logs (LSAN_OPTIONS=log_path=DIR/lsan) report a
leak allocated by our code: a stack frame, past the malloc interceptor, in
our sources (symbolized: ROOT/src, tests, tools, examples) or modules (the
library, our test and tool binaries), all built with frame pointers, so the
fast unwinder sees them. Usage: lsan_ours.py DIR ROOT. Leaks whose stacks stay inside
the Vulkan driver, the loader, the validation layer or libstdc++ are theirs
(those modules are unloaded before exit and cannot be symbolized, so LSan
suppressions cannot name them); leaked Vulkan objects of ours are caught by
the validation layer's object tracking instead."""
import pathlib
import re
import sys

ours = re.compile(r"\((?:[^)]*/)?(libentropyinfer\.so[^+)]*|build-asan/(?:tests|tools|examples)/[^+)]+)\+")
log_dir, root = pathlib.Path(sys.argv[1]), sys.argv[2].rstrip("/")
in_tree = re.compile(re.escape(root) + r"/(?:src|tests|tools|examples)/")
found = 0
logs = sorted(log_dir.glob("lsan*"))
for log in logs:
    for report in re.split(r"\n(?=(?:Direct|Indirect) leak of)", log.read_text(errors="replace")):
        frames = [l for l in report.splitlines() if re.match(r"\s+#\d+ ", l)]
        if any(ours.search(f) or in_tree.search(f) for f in frames[1:]):
            found += 1
            print(f"{log.name}: a leak in our code:\n{report.strip()}\n")
print(f"LeakSanitizer: {len(logs)} log(s) read, {found} leak(s) in our code")
sys.exit(1 if found else 0)
