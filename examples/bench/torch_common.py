# Shared by the PyTorch references of examples/bench (torch_resnet.py, torch_byol.py,
# ceiling.py) and examples/quality/torch_quality.py: the ResNet-18 layout of resnet.ts, the
# MLP heads of heads.ts, selfsup's weight init, the BYOL loss, one LARS update (optim/lars.ts),
# the target EMA (callbacks' ema.ts) and a median timer.
import math
import time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.sc = nn.Sequential()
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + self.sc(x))


def resnet18(w, cin, stem="cifar", stages=None):
    """ResNet-18 with w channels in the first stage (stages: the four stage widths, default
    w, 2w, 4w, 8w), up to the pooled features; returns (model, feature dimension).
    stem 'cifar': 3×3/1 conv, no pool; 'imagenet': 7×7/2 conv + 3×3/2 max-pool (as resnet.ts)."""
    c1, c2, c3, c4 = stages or (w, 2 * w, 4 * w, 8 * w)
    cfg = [(c1, c1, 1), (c1, c1, 1), (c1, c2, 2), (c2, c2, 1),
           (c2, c3, 2), (c3, c3, 1), (c3, c4, 2), (c4, c4, 1)]
    if stem == "cifar":
        head = [nn.Conv2d(cin, c1, 3, 1, 1, bias=False), nn.BatchNorm2d(c1), nn.ReLU()]
    elif stem == "imagenet":
        head = [nn.Conv2d(cin, c1, 7, 2, 3, bias=False), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    else:
        raise ValueError(f'resnet18: stem "{stem}" is not supported; use "cifar" or "imagenet"')
    return nn.Sequential(*head, *[Block(*c) for c in cfg], nn.AdaptiveAvgPool2d(1), nn.Flatten()), c4


def selfsup_channels(width, multiple):
    """resnet.ts' stage width: max(1, Math.round(64·width·multiple)) (JS rounds halves up)."""
    return max(1, math.floor(64 * width * multiple + 0.5))


def resnet18_width(width, cin, stem="cifar"):
    """resnet18 with selfsup's width multiplier (each stage rounded on its own, as resnet.ts)."""
    stages = tuple(selfsup_channels(width, m) for m in (1, 2, 4, 8))
    return resnet18(stages[0], cin, stem, stages)


def mlp(d, hidden, out):
    """BYOL projector / predictor (heads.ts): Linear → BN → ReLU → Linear."""
    return nn.Sequential(nn.Linear(d, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))


def init_like_selfsup(module):
    """selfsup's init (models/init.ts): convs kaiming_normal_(fan_out, relu) as torchvision's
    ResNet, BN γ = 1, β = 0; Linear keeps torch's default U(±1/√fan_in), as heads.ts."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def byol_loss(p, z):
    """One direction of the BYOL loss: mean over the batch of 2 − 2·cos(p, sg(z))."""
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1)).mean()


@torch.no_grad()
def lars_update(p, g, buf, lr, momentum, wd, eta, clip=True, nesterov=False, excluded=False, eps=1e-8):
    """One LARS update of p in place, solo-learn's form as optim/lars.ts: unless excluded
    (biases, BN γ/β), when ‖w‖ > 0 and ‖g‖ > 0, trust = η‖w‖/(‖g‖ + wd‖w‖ + eps) (clip: and
    lr > 0, min(trust/lr, 1)), d = (g + wd·w)·trust; otherwise d = g. Then torch-SGD momentum
    buf ← μ·buf + d; w ← w − lr·buf (nesterov: w ← w − lr·(d + μ·buf))."""
    d = g
    if not excluded:
        wn, gn = torch.norm(p), torch.norm(g)
        if wn > 0 and gn > 0:
            trust = eta * wn / (gn + wd * wn + eps)
            if clip and lr > 0:
                trust = torch.clamp(trust / lr, max=1.0)
            d = (g + wd * p) * trust
    buf.mul_(momentum).add_(d)
    p.add_(d.add(buf, alpha=momentum) if nesterov else buf, alpha=-lr)


@torch.no_grad()
def ema_update(target, online, tau, bn_stats="ema"):
    """ξ ← τ·ξ + (1 − τ)·θ over the parameters of two identical modules; the floating-point
    buffers (BN running statistics) likewise with bn_stats 'ema', copied with 'copy'."""
    tp, op = list(target.parameters()), list(online.parameters())
    torch._foreach_mul_(tp, tau)
    torch._foreach_add_(tp, op, alpha=1 - tau)
    tb = [b for b in target.buffers() if b.dtype.is_floating_point]
    ob = [b for b in online.buffers() if b.dtype.is_floating_point]
    if bn_stats == "copy":
        for t, o in zip(tb, ob):
            t.copy_(o)
    else:
        torch._foreach_mul_(tb, tau)
        torch._foreach_add_(tb, ob, alpha=1 - tau)


def median_seconds(fn, reps):
    """Median wall time of `reps` calls of fn after one warm-up call."""
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]
