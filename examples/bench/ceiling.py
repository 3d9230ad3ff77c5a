# PyTorch side of `bench --only ceiling`: the same GEMMs and forward convs as ceiling.ts,
# timed with the same thread count. usage: python3 ceiling.py threads reps
# Prints one JSON line: [{"name", "gflops"}...].
import json, sys
import torch
import torch.nn.functional as F
from torch_common import median_seconds

threads, reps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
rows = []


def rate(name, flop, fn):
    rows.append({"name": name, "gflops": flop / median_seconds(fn, reps) / 1e9})


with torch.no_grad():
    for m, k, n in [(1024, 1024, 1024), (256, 4096, 4096)]:
        a, b = torch.randn(m, k), torch.randn(k, n)
        rate(f"matmul {m}x{k}x{n}", 2 * m * k * n, lambda: a @ b)
    # the 3×3 convs of ResNet-18 width 0.5 on 32×32 inputs, batch 2 × 128 (BYOL's two views)
    for h, c in [(32, 32), (16, 64), (8, 128), (4, 256)]:
        bsz, ci, co, name = 256, c, c, f"conv3x3 {c}->{c} {h}x{h} b256"
        x = torch.randn(bsz, ci, h, h)
        w = torch.randn(co, ci, 3, 3)
        rate(name, 2 * bsz * h * h * 9 * ci * co, lambda: F.conv2d(x, w, padding=1))
print(json.dumps(rows))
