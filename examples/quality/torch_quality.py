# PyTorch CPU reference for selfsup's quality benchmark (`npm run quality -- <config>
# --compare-torch`): trains BYOL on Fashion-MNIST with selfsup's recipe and scores the weighted
# kNN accuracy of the online and target encoders after every epoch.
#
# usage: /usr/bin/python3 examples/quality/torch_quality.py RECIPE.json [CHECKPOINT]
#
# With CHECKPOINT the whole training state (networks, optimizer slots, random generators,
# clocks, the lines printed so far) is saved there after every epoch, atomically; a later run
# with the same recipe and CHECKPOINT prints the saved lines again and continues after the saved
# epoch, with the numbers an uninterrupted run gives. A checkpoint of another recipe is ignored.
# SELFSUP_TORCH_STOP_AFTER=E stops the run (exit 3) once epoch E is saved: an interruption, for
# the tests.
#
# stdout, one JSON object per line:
#   {"type":"baseline","rawPixels","untrained","bank","queries","torch"}
#   {"type":"epoch","epoch","knn_acc","knn_acc_target","loss","trainSeconds","elapsedSeconds"}  per epoch
#   {"type":"done"}
# stderr: progress every 50 steps.
#
# What follows selfsup, and where (packages/…):
#   model      byol/models/{resnet,heads,init}.ts: ResNet-18 (stage widths round(64·width·2^i)),
#              MLP heads Linear → BN → ReLU → Linear, convs kaiming_normal fan_out, Linear torch default
#   step       byol/experiment/byol-experiment.ts: views T(x), T'(x); the target (BN in train mode)
#              and the online network each see both views as one 2N batch; loss ℓ(p1, z2) + ℓ(p2, z1)
#   optimizer  byol/optim/{lars,sgd,adam}.ts, exclude.ts: LARS skips biases and BN γ/β; SGD, Adam,
#              AdamW exclude nothing; predictor LR = (fixed ? base : scheduled) × multiplier
#   schedules  core/schedules.ts (warmupCosineLr, cosineWithWarmupFactorLr, cosineTau), callbacks'
#              lr-schedule.ts (LR of 0-based step k set before step k), ema.ts (τ of step k after step k)
#   augment    byol/augment/*: crop = tf.image.cropAndResize bilinear with corners on the pixel
#              centres of torchvision's RandomResizedCrop window (grid_sample align_corners=True
#              reproduces it), flip, colour jitter with a per-sample (or per-batch) random order,
#              grayscale, separable gaussian blur with reflect padding, solarize, normalize
#   kNN        callbacks/eval/knn.ts: cosine on L2-normalised features, top k, votes exp(sim/T);
#              features in inference mode (BN moving statistics) of the un-augmented images
# Known differences: the random streams (torch generators, not selfsup's Rng: same
# distributions, other draws, other initial weights); BN moving variance (torch updates it with
# the unbiased batch variance, tfjs with the biased one: a factor 1 + 1/(N·H·W) at most);
# tfjs's cropAndResize writes 0 where float rounding puts a last sample a hair past the image
# edge (none in 2000 sampled 28 px crops; 1.5% of 14 px local crops on wasm get a black edge
# row or column), this script samples the edge pixel.
# Local crops (multi-crop, byol-experiment.ts' onlineLoss): T's ops with the crop replaced by
# localCrops' size, scale and ratio (default T's); the online encoder runs them as a batch of
# their own after the globals, the heads run once over globals and locals together.
import copy
import gzip
import json
import math
import os
import sys
import time

# Passive OpenMP waiting: when another process shares the cores (the selfsup run of the same
# benchmark, say), spinning worker threads slow a 2-thread step by 10× or more.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_common import byol_loss, ema_update, init_like_selfsup, lars_update, mlp, resnet18_width  # noqa: E402

PROGRESS_EVERY = 50


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


# ----------------------------------------------------------------------------- data

def read_idx(path):
    """An IDX file (gzip) as a numpy uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(folder, prefix, limit):
    """(images [N, 1, H, W] float32 in [0, 1], labels [N] int64), the first `limit` if given."""
    x = read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit is not None:
        x, y = x[:limit], y[:limit]
    x = torch.from_numpy(x.astype(np.float32) / np.float32(255))
    if x.ndim == 3:
        x = x.unsqueeze(1)
    else:  # [N, H, W, C]
        x = x.permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(y.astype(np.int64))


# ----------------------------------------------------------------------------- augmentations

LUMA = (0.2989, 0.587, 0.114)
ADJUSTMENTS = ("brightness", "contrast", "saturation", "hue")
IDENTITY = {"brightness": 1.0, "contrast": 1.0, "saturation": 1.0, "hue": 0.0}


def js_round(x):
    """Math.round: halves go up."""
    return torch.floor(x + 0.5)


def uniform(gen, n, lo, hi):
    return lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)


def bernoulli(gen, n, p):
    return torch.rand(n, generator=gen, dtype=torch.float64) < p


def sample_crop_windows(gen, n, height, width, scale, ratio, tries=10):
    """torchvision's RandomResizedCrop.get_params per sample (crop.ts' sampleCropWindow),
    vectorised: 10 tries of area ~ U[scale]·H·W, aspect ~ logU[ratio]; the first that fits is
    placed uniformly; none fits → centre crop clamped to the ratio range. (top, left, h, w)."""
    area = height * width
    target = area * uniform(gen, n * tries, scale[0], scale[1]).view(n, tries)
    aspect = torch.exp(uniform(gen, n * tries, math.log(ratio[0]), math.log(ratio[1])).view(n, tries))
    w = js_round(torch.sqrt(target * aspect))
    h = js_round(torch.sqrt(target / aspect))
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.argmax(ok.to(torch.int8), dim=1)
    rows = torch.arange(n)
    h, w, hit = h[rows, first], w[rows, first], ok.any(dim=1)
    top = torch.floor(torch.rand(n, generator=gen, dtype=torch.float64) * (height - h + 1))
    left = torch.floor(torch.rand(n, generator=gen, dtype=torch.float64) * (width - w + 1))
    if not bool(hit.all()):
        in_ratio = width / height
        if in_ratio < ratio[0]:
            fw, fh = width, min(height, math.floor(width / ratio[0] + 0.5))
        elif in_ratio > ratio[1]:
            fh, fw = height, min(width, math.floor(height * ratio[1] + 0.5))
        else:
            fw, fh = width, height
        miss = ~hit
        h[miss], w[miss] = float(fh), float(fw)
        top[miss], left[miss] = float((height - fh) // 2), float((width - fw) // 2)
    return top, left, h, w


def resized_crop(x, top, left, h, w, size):
    """tf.image.cropAndResize(…, 'bilinear') of crop.ts: output pixel i samples the source at
    top + i·(h − 1)/(size − 1) (the box corners on the corner pixels' centres), bilinearly."""
    n, _, height, width = x.shape
    i = torch.arange(size, dtype=torch.float64)
    if size > 1:
        ys = top[:, None] + i[None, :] * ((h - 1) / (size - 1))[:, None]
        xs = left[:, None] + i[None, :] * ((w - 1) / (size - 1))[:, None]
    else:
        ys, xs = (top + (h - 1) / 2)[:, None], (left + (w - 1) / 2)[:, None]
    gy = (2 * ys / max(height - 1, 1) - 1).float()
    gx = (2 * xs / max(width - 1, 1) - 1).float()
    grid = torch.stack([gx[:, None, :].expand(n, size, size), gy[:, :, None].expand(n, size, size)], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def per_sample(values, x):
    return values.to(x.dtype).view(-1, 1, 1, 1)


def luma(x):
    if x.shape[1] == 1:
        return x
    return LUMA[0] * x[:, 0:1] + LUMA[1] * x[:, 1:2] + LUMA[2] * x[:, 2:3]


def blend(x, other, f):
    return torch.clamp(x * f + other * (1 - f), 0, 1)


def adjust_brightness(x, f):
    return torch.clamp(x * f, 0, 1)


def adjust_contrast(x, f):
    return blend(x, luma(x).mean(dim=(1, 2, 3), keepdim=True), f)


def adjust_saturation(x, f):
    return x if x.shape[1] == 1 else blend(x, luma(x).expand_as(x), f)


def adjust_hue(x, shift):
    """color.ts' adjustHue (torchvision's adjust_hue in closed form): hue in sixths from the
    channel holding the max (first on ties), shifted, back with c = M − C·clamp(min(k, 4 − k), 0, 1)."""
    if x.shape[1] == 1:
        return x
    maxc, arg = x.max(dim=1, keepdim=True)
    chroma = maxc - x.min(dim=1, keepdim=True).values
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    diffs = torch.cat([g - b, b - r, r - g], dim=1)
    ratio = torch.gather(diffs, 1, arg) / torch.clamp(chroma, min=1e-12)
    hue6 = ratio + shift * 6
    n_c = torch.tensor([5.0, 3.0, 1.0], dtype=x.dtype).view(1, 3, 1, 1)
    k0 = 2 * arg.to(x.dtype) + n_c + hue6
    k = k0 - torch.floor(k0 / 6) * 6
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return torch.clamp(maxc - chroma * ramp, 0, 1)


ADJUST = {"brightness": adjust_brightness, "contrast": adjust_contrast, "saturation": adjust_saturation, "hue": adjust_hue}


def color_jitter(gen, x, cfg):
    """color_jitter.ts: per sample, with probability p, the enabled adjustments (strength > 0;
    on 1 channel only brightness and contrast) with torchvision's factor ranges, in a per-sample
    random order (order 'per-batch': one order for the batch)."""
    n, channels = x.shape[0], x.shape[1]
    enabled = [a for a in ADJUSTMENTS if cfg[a] > 0 and (channels != 1 or a in ("brightness", "contrast"))]
    applied = bernoulli(gen, n, cfg["p"])
    if not enabled or not bool(applied.any()):
        return x
    factors = {
        "brightness": uniform(gen, n, max(0.0, 1 - cfg["brightness"]), 1 + cfg["brightness"]),
        "contrast": uniform(gen, n, max(0.0, 1 - cfg["contrast"]), 1 + cfg["contrast"]),
        "saturation": uniform(gen, n, max(0.0, 1 - cfg["saturation"]), 1 + cfg["saturation"]),
        "hue": uniform(gen, n, -cfg["hue"], cfg["hue"]),
    }
    if cfg.get("order", "per-sample") == "per-batch":
        order = torch.randperm(len(ADJUSTMENTS), generator=gen).expand(n, -1)
    else:
        order = torch.argsort(torch.rand(n, len(ADJUSTMENTS), generator=gen), dim=1)
    x = x.clone()
    for stage in range(len(ADJUSTMENTS)):
        for a in enabled:
            rows = applied & (order[:, stage] == ADJUSTMENTS.index(a))
            if bool(rows.any()):
                x[rows] = ADJUST[a](x[rows], per_sample(factors[a][rows], x))
    return x


def blur_kernel_size(side):
    """blur.ts' blurKernelSize: odd, about 10% of the side, at least 3."""
    k = max(3, math.floor(side / 10 + 0.5))
    return k if k % 2 == 1 else k + 1


def gaussian_blur(gen, x, cfg):
    """blur.ts: with probability p a gaussian of σ ~ U[sigma] per sample, separable, reflect-padded."""
    n, channels, height, width = x.shape
    applied = bernoulli(gen, n, cfg["p"])
    sigma = uniform(gen, n, cfg["sigma"][0], cfg["sigma"][1])
    size = cfg.get("kernelSize") or blur_kernel_size(min(height, width))
    r = min((size - 1) // 2, min(height, width) - 1)
    if r <= 0 or not bool(applied.any()):
        return x
    sel = applied.nonzero().flatten()
    m = sel.numel()
    offs = torch.arange(-r, r + 1, dtype=torch.float64)
    taps = torch.exp(-(offs[None, :] ** 2) / (2 * sigma[sel, None] ** 2))
    taps = (taps / taps.sum(dim=1, keepdim=True)).float().repeat_interleave(channels, dim=0)  # [m·C, k]
    k = 2 * r + 1
    padded = F.pad(x[sel], (r, r, r, r), mode="reflect").reshape(1, m * channels, height + 2 * r, width + 2 * r)
    out = F.conv2d(F.conv2d(padded, taps.view(m * channels, 1, k, 1), groups=m * channels),
                   taps.view(m * channels, 1, 1, k), groups=m * channels)
    x = x.clone()
    x[sel] = torch.clamp(out.view(m, channels, height, width), 0, 1)
    return x


class Augmentation:
    """One view's pipeline (pipeline.ts): crop → flip → colorJitter → grayscale → blur →
    solarize → normalize, each op only when configured, random parameters per sample."""

    KNOWN = ("crop", "flip", "colorJitter", "grayscale", "blur", "solarize", "normalize")

    def __init__(self, cfg, name):
        unknown = [k for k in cfg if k not in self.KNOWN]
        if unknown:
            raise ValueError(f"augment.{name}: unknown op(s) {unknown}; known: {list(self.KNOWN)}")
        self.cfg = {k: v for k, v in cfg.items() if v is not None}

    def __call__(self, gen, x):
        c = self.cfg
        n = x.shape[0]
        if "crop" in c:
            crop = c["crop"]
            top, left, h, w = sample_crop_windows(gen, n, x.shape[2], x.shape[3], crop["scale"], crop["ratio"])
            x = resized_crop(x, top, left, h, w, crop["size"])
        if "flip" in c:
            flip = bernoulli(gen, n, c["flip"]["p"])
            if bool(flip.any()):
                x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        if "colorJitter" in c:
            x = color_jitter(gen, x, c["colorJitter"])
        if "grayscale" in c:
            gray = bernoulli(gen, n, c["grayscale"]["p"])
            if x.shape[1] == 3 and bool(gray.any()):
                x = torch.where(gray.view(-1, 1, 1, 1), luma(x).expand_as(x), x)
        if "blur" in c:
            x = gaussian_blur(gen, x, c["blur"])
        if "solarize" in c:
            sol = bernoulli(gen, n, c["solarize"]["p"])
            if bool(sol.any()):
                solarized = torch.where(x >= c["solarize"]["threshold"], 1 - x, x)
                x = torch.where(sol.view(-1, 1, 1, 1), solarized, x)
        if "normalize" in c:
            mean = torch.tensor(c["normalize"]["mean"], dtype=x.dtype).view(1, -1, 1, 1)
            std = torch.tensor(c["normalize"]["std"], dtype=x.dtype).view(1, -1, 1, 1)
            x = (x - mean) / std
        return x.contiguous(memory_format=torch.channels_last)  # mkldnn's faster layout


# ----------------------------------------------------------------------------- schedules

def lr_at(schedule, base, k, total):
    """The LR of 0-based step k (core/schedules.ts; warm-up clamped to the run as lr-schedule.ts)."""
    kind = schedule["type"]
    if kind == "constant":
        return base
    warm = min(int(schedule["warmupSteps"]), total)
    lo = min(schedule["minLr"], base)
    k = min(max(k, 0), total)
    if kind == "warmup-cosine":  # warmupCosineLr
        if k < warm:
            return base * k / warm
        decay = total - warm
        if decay == 0:
            return base
        return lo + (base - lo) * (1 + math.cos(math.pi * (k - warm) / decay)) / 2
    if kind == "cosine":  # cosineWithWarmupFactorLr
        cosine = lo + (base - lo) * (1 + math.cos(math.pi * k / total)) / 2
        return cosine * k / warm if k < warm else cosine
    raise ValueError(f'schedule.type "{kind}" is not supported; use warmup-cosine, cosine or constant')


def tau_at(tau_base, k, total):
    """core/schedules.ts' cosineTau: 1 − (1 − τ_base)·(cos(πk/K) + 1)/2."""
    k = min(max(k, 0), total)
    return 1 - (1 - tau_base) * (math.cos(math.pi * k / total) + 1) / 2


# ----------------------------------------------------------------------------- optimizers

class Optimizer:
    """selfsup's optim/{lars,sgd,adam}.ts over (parameter, excluded, is_predictor) entries; the
    predictor's LR is (predictorFixedLr ? base : scheduled) × predictorLrMultiplier."""

    def __init__(self, cfg, entries, base_lr):
        self.cfg, self.entries, self.base_lr = cfg, entries, base_lr
        self.name = cfg["name"]
        if self.name not in ("lars", "sgd", "adam", "adamw"):
            raise ValueError(f'optimizer.name "{self.name}" is not supported; use lars, sgd, adam or adamw')
        if self.name == "sgd" and cfg["nesterov"] and cfg["momentum"] == 0:
            raise ValueError("optimizer: nesterov needs momentum > 0")
        self.step_count = 0
        self.state = [[torch.zeros_like(p) for _ in range(2 if self.name.startswith("adam") else 1)] for p, _, _ in entries]

    @torch.no_grad()
    def step(self, lr):
        c = self.cfg
        self.step_count += 1
        t = self.step_count
        wd = c["weightDecay"]
        mult, fixed = c["predictorLrMultiplier"], c["predictorFixedLr"]
        for (p, excluded, predictor), slots in zip(self.entries, self.state):
            g = p.grad
            if g is None:
                continue
            plr = ((self.base_lr if fixed else lr) * mult) if predictor else lr
            if self.name == "lars":
                lars_update(p, g, slots[0], plr, c["momentum"], wd, c["eta"], c["clipTrustRatio"], c["nesterov"], excluded)
            elif self.name == "sgd":
                d = g.add(p, alpha=wd) if wd > 0 and not excluded else g
                if c["momentum"] == 0:
                    p.add_(d, alpha=-plr)
                    continue
                buf = slots[0].mul_(c["momentum"]).add_(d)
                p.add_(d.add(buf, alpha=c["momentum"]) if c["nesterov"] else buf, alpha=-plr)
            else:
                b1, b2, eps = c["beta1"], c["beta2"], c["epsilon"]
                decay = wd > 0 and not excluded
                if decay and self.name == "adam":
                    g = g.add(p, alpha=wd)
                m, v = slots
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                upd = (m / (1 - b1 ** t)) / (torch.sqrt(v / (1 - b2 ** t)) + eps)
                if decay and self.name == "adamw":
                    p.mul_(1 - plr * wd)
                p.add_(upd, alpha=-plr)


# ----------------------------------------------------------------------------- kNN

@torch.no_grad()
def features(encoder, x, batch=1024):
    """Encoder features in inference mode (BN moving statistics)."""
    was = encoder.training
    encoder.eval()
    out = torch.cat([encoder(x[i:i + batch].contiguous(memory_format=torch.channels_last)) for i in range(0, x.shape[0], batch)])
    encoder.train(was)
    return out


@torch.no_grad()
def knn_accuracy(bank, bank_y, query, query_y, k, temperature, classes, chunk=1024):
    """knn.ts: cosine similarity of L2-normalised rows, the top k bank rows vote for their class
    with weight exp(sim / T); top-1 accuracy."""
    bank = F.normalize(bank.flatten(1), dim=1, eps=1e-12)
    query = F.normalize(query.flatten(1), dim=1, eps=1e-12)
    k = min(k, bank.shape[0])
    correct = 0
    for i in range(0, query.shape[0], chunk):
        sim = query[i:i + chunk] @ bank.T
        values, idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], classes).scatter_add_(1, bank_y[idx], torch.exp(values / temperature))
        correct += int((votes.argmax(dim=1) == query_y[i:i + chunk]).sum())
    return correct / query.shape[0]


# ----------------------------------------------------------------------------- main

def save_checkpoint(path, state):
    """torch.save to a temporary file, then rename: a kill leaves the old or the new one."""
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, recipe):
    """The saved state when `path` holds one for this very recipe, else None (and why, on stderr)."""
    if not path or not os.path.exists(path):
        return None
    try:
        state = torch.load(path)
    except Exception as e:  # a file of another torch version, say: start again
        log(f"torch_quality: checkpoint {path} unreadable ({e}); starting from epoch 1")
        return None
    if state.get("recipe") != recipe:
        log(f"torch_quality: checkpoint {path} is for another recipe; starting from epoch 1")
        return None
    return state


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: /usr/bin/python3 examples/quality/torch_quality.py RECIPE.json [CHECKPOINT]")
    with open(sys.argv[1]) as f:
        R = json.load(f)
    ckpt_path = sys.argv[2] if len(sys.argv) == 3 else None
    stop_after = int(os.environ.get("SELFSUP_TORCH_STOP_AFTER", "0"))
    torch.set_num_threads(int(R["threads"]))
    seed = int(R["seed"])
    torch.manual_seed(seed)
    gen_data = torch.Generator().manual_seed(seed)
    gen_aug = torch.Generator().manual_seed(seed + 1)

    data = R["data"]
    train_x, train_y = load_split(data["dir"], "train", data["trainLimit"])
    test_x, test_y = load_split(data["dir"], "t10k", data["testLimit"])
    classes = int(max(train_y.max(), test_y.max())) + 1
    n_train, channels = train_x.shape[0], train_x.shape[1]
    batch = int(R["batchSize"])
    per_epoch = n_train // batch
    if R["stepsPerEpoch"] is not None:
        per_epoch = min(per_epoch, int(R["stepsPerEpoch"]))
    if per_epoch < 1:
        sys.exit(f"torch_quality: {n_train} training images make no batch of {batch}")
    epochs = int(R["epochs"])
    total = epochs * per_epoch

    m = R["model"]
    encoder, dim = resnet18_width(m["width"], channels, m["stem"])
    init_like_selfsup(encoder).to(memory_format=torch.channels_last)
    if m.get("zeroInitResidual"):  # model.zeroInitResidual: each block's last BN γ = 0 (resnet.ts, torchvision's zero_init_residual)
        for block in encoder:
            if hasattr(block, "b2"):
                nn.init.zeros_(block.b2.weight)
    projector = mlp(dim, m["projectorHiddenDim"], m["projectorDim"])
    predictor = mlp(m["projectorDim"], m["predictorHiddenDim"], m["projectorDim"])
    online = nn.Sequential(encoder, projector).train()
    predictor.train()
    target = copy.deepcopy(online).train()  # target-init: an exact copy, BN statistics included
    for p in target.parameters():
        p.requires_grad_(False)
    t_encoder = target[0]

    opt_cfg = R["optimizer"]
    lars = opt_cfg["name"] == "lars"
    entries = [(p, lars and p.ndim <= 1, False) for p in online.parameters()]
    entries += [(p, lars and p.ndim <= 1, True) for p in predictor.parameters()]
    optimizer = Optimizer(opt_cfg, entries, float(opt_cfg["lr"]))
    params = [p for p, _, _ in entries]

    aug = R["augment"]
    T, T_prime = Augmentation(aug["t"], "t"), Augmentation(aug["tPrime"], "tPrime")
    local = aug.get("localCrops")
    T_local = None
    if local and int(local["count"]) > 0:
        t_cfg = dict(aug["t"])
        ratio = local.get("ratio") or (t_cfg.get("crop") or {}).get("ratio") or [3 / 4, 4 / 3]
        t_cfg["crop"] = {"size": int(local["size"]), "scale": local["scale"], "ratio": ratio}
        T_local = Augmentation(t_cfg, "localCrops")
    n_local = int(local["count"]) if T_local else 0
    knn = R["knn"]
    ema = R["ema"]
    if ema["bnStats"] not in ("ema", "copy"):
        raise ValueError(f'ema.bnStats "{ema["bnStats"]}" is not supported; use ema or copy')
    lr_at(R["schedule"], float(opt_cfg["lr"]), 0, total)  # rejects an unknown schedule before the baseline

    def knn_of(enc):
        return knn_accuracy(features(enc, train_x), train_y, features(enc, test_x), test_y, knn["k"], knn["temperature"], classes)

    saved = load_checkpoint(ckpt_path, R)
    printed = []  # every line printed so far: a resumed run prints them again

    def out(obj):
        printed.append(obj)
        emit(obj)

    first_epoch, train_seconds, elapsed_before, k = 1, 0.0, 0.0, 0
    if saved is None:
        t0 = time.perf_counter()
        out({"type": "baseline",
             "rawPixels": knn_accuracy(train_x, train_y, test_x, test_y, knn["k"], knn["temperature"], classes),
             "untrained": knn_of(encoder), "bank": n_train, "queries": test_x.shape[0], "torch": torch.__version__})
        log(f"torch_quality: baseline in {time.perf_counter() - t0:.1f}s")
    else:
        online.load_state_dict(saved["online"])
        predictor.load_state_dict(saved["predictor"])
        target.load_state_dict(saved["target"])
        with torch.no_grad():
            for slots, saved_slots in zip(optimizer.state, saved["optimizer"]):
                for slot, value in zip(slots, saved_slots):
                    slot.copy_(value)
        optimizer.step_count = saved["optimizer_steps"]
        gen_data.set_state(saved["gen_data"])
        gen_aug.set_state(saved["gen_aug"])
        torch.set_rng_state(saved["rng"])
        first_epoch, train_seconds, elapsed_before, k = saved["epoch"] + 1, saved["train_seconds"], saved["elapsed_seconds"], saved["step"]
        for line in saved["printed"]:
            out(line)
        log(f"torch_quality: resumed from {ckpt_path} after epoch {saved['epoch']} (step {k})")
    log(f"torch_quality: {epochs} epochs × {per_epoch} steps of {batch}, "
        f"{opt_cfg['name']} lr {opt_cfg['lr']}, {R['schedule']['type']}, {n_local} local crops, {torch.get_num_threads()} threads")

    start = time.perf_counter() - elapsed_before
    for epoch in range(first_epoch, epochs + 1):
        perm = torch.randperm(n_train, generator=gen_data)
        loss_sum = 0.0
        window = time.perf_counter()
        for b in range(per_epoch):
            s0 = time.perf_counter()
            x = train_x[perm[b * batch:(b + 1) * batch]]
            lr = lr_at(R["schedule"], float(opt_cfg["lr"]), k, total)
            both = torch.cat([T(gen_aug, x), T_prime(gen_aug, x)])
            with torch.no_grad():
                z1, z2 = target(both).chunk(2)
            h = encoder(both)
            if n_local:  # the encoder once per resolution, the heads once over all rows (as selfsup)
                h = torch.cat([h, encoder(T_local(gen_aug, x.repeat(n_local, 1, 1, 1)))])
            zo = projector(h)
            p1, p2, *pl = predictor(zo).split(x.shape[0])
            terms = [byol_loss(p1, z2), byol_loss(p2, z1)]
            for p in pl:  # local crop c of every image: rows c·N … c·N + N − 1
                terms += [byol_loss(p, z1), byol_loss(p, z2)]
            loss = 2 * torch.stack(terms).mean()
            for p in params:
                p.grad = None
            loss.backward()
            optimizer.step(lr)
            tau = tau_at(float(ema["tauBase"]), k, total)
            ema_update(target, online, tau, ema["bnStats"])
            loss_sum += float(loss)
            train_seconds += time.perf_counter() - s0
            k += 1
            if k % PROGRESS_EVERY == 0:
                with torch.no_grad():
                    z_std = F.normalize(zo[:2 * x.shape[0]], dim=1).std(dim=0).mean()
                now = time.perf_counter()
                log(f"epoch {epoch} step {k}/{total} loss {float(loss):.4f} z_std {float(z_std):.4f} lr {lr:.4g} "
                    f"tau {tau:.5f} {(now - window) / PROGRESS_EVERY:.3f}s/step")
                window = now
        acc, acc_target = knn_of(encoder), knn_of(t_encoder)
        elapsed = time.perf_counter() - start
        row = {"type": "epoch", "epoch": epoch, "knn_acc": acc, "knn_acc_target": acc_target, "loss": loss_sum / per_epoch,
               "trainSeconds": train_seconds, "elapsedSeconds": elapsed}
        if ckpt_path and epoch < epochs:
            save_checkpoint(ckpt_path, {
                "recipe": R, "epoch": epoch, "step": k, "train_seconds": train_seconds, "elapsed_seconds": elapsed,
                "online": online.state_dict(), "predictor": predictor.state_dict(), "target": target.state_dict(),
                "optimizer": optimizer.state, "optimizer_steps": optimizer.step_count,
                "gen_data": gen_data.get_state(), "gen_aug": gen_aug.get_state(), "rng": torch.get_rng_state(),
                "printed": printed + [row]})
        out(row)
        if stop_after and epoch == stop_after and epoch < epochs:
            log(f"torch_quality: stopping after epoch {epoch} (SELFSUP_TORCH_STOP_AFTER)")
            sys.exit(3)
    if ckpt_path and os.path.exists(ckpt_path):
        os.remove(ckpt_path)
    emit({"type": "done"})


if __name__ == "__main__":
    main()
