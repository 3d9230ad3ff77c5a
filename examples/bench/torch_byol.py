# PyTorch CPU reference for examples/bench (--compare-torch): one BYOL step with the same
# model sizes as byol_configs.ts — ResNet-18 CIFAR stem (channels round(64·width)), MLP heads
# Linear → BN → ReLU → Linear, online on both views concatenated, target without gradient,
# symmetric loss 2 − 2·cos, LARS (solo-learn form, η 0.02, clipped, wd 1e-5, biases and BN
# excluded), EMA of every target weight and BN statistic. The two views are fixed random
# tensors: a PyTorch pipeline augments in DataLoader workers, outside the step (selfsup's
# step includes its augmentations; the bench reports their time as augmentSeconds and the ratio
# without them as ratioNoAug).
# usage: python3 torch_byol.py threads config batch steps     (config: main | r18-w0.5 | r18-w0.5-gray | r18-w1 | r18-w1-gray)
import json, os, sys, time
import torch, torch.nn as nn, torch.nn.functional as F
from torch_common import byol_loss, ema_update, lars_update, mlp, resnet18

threads, config, batch, steps = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
CONFIGS = {
    "main": dict(width=0.125, size=28, channels=1, heads=(1024, 128)),
    "r18-w0.5-gray": dict(width=0.5, size=28, channels=1, heads=(4096, 256)),
    "r18-w0.5": dict(width=0.5, size=32, channels=3, heads=(4096, 256)),
    "r18-w1": dict(width=1.0, size=32, channels=3, heads=(4096, 256)),
    "r18-w1-gray": dict(width=1.0, size=28, channels=1, heads=(4096, 256)),
}
cfg = CONFIGS[config]


torch.manual_seed(0)
w = max(1, round(64 * cfg["width"]))  # channels of the first stage, as in resnet.ts
enc, d = resnet18(w, cfg["channels"])
hid, out = cfg["heads"]
proj, pred = mlp(d, hid, out), mlp(out, hid, out)
online = nn.ModuleList([enc, proj, pred]).train()
t_enc, _ = resnet18(w, cfg["channels"])
t_proj = mlp(d, hid, out)
target = nn.Sequential(t_enc, t_proj).train()
target.load_state_dict(nn.Sequential(enc, proj).state_dict())
for p in target.parameters():
    p.requires_grad_(False)

lr, momentum, wd, eta = 1.0 * batch / 256, 0.9, 1e-5, 0.02
params = list(online.parameters())
bufs = [torch.zeros_like(p) for p in params]
v1 = torch.rand(batch, cfg["channels"], cfg["size"], cfg["size"])
v2 = torch.rand(batch, cfg["channels"], cfg["size"], cfg["size"])


def lars_step():
    for p, buf in zip(params, bufs):  # biases and BN γ/β excluded
        lars_update(p, p.grad, buf, lr, momentum, wd, eta, clip=True, excluded=p.ndim <= 1)


def step(tau=0.99):
    both = torch.cat([v1, v2])
    with torch.no_grad():
        z1, z2 = t_proj(t_enc(both)).chunk(2)
    p1, p2 = pred(proj(enc(both))).chunk(2)
    loss = byol_loss(p1, z2) + byol_loss(p2, z1)
    for p in params:
        p.grad = None
    loss.backward()
    lars_step()
    ema_update(target, nn.Sequential(enc, proj), tau)  # weights and BN statistics
    return loss.item()


step()
times, cpu = [], []
for _ in range(steps):
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)  # all threads of the process
med = sorted(times)[len(times) // 2]
print(json.dumps({"name": f"torch byol {config} b{batch}", "imgPerSec": batch / med,
                  "stepSeconds": [round(t, 3) for t in times], "cpuSeconds": [round(t, 3) for t in cpu], "threads": threads, "torch": torch.__version__,
                  "blas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")}))
