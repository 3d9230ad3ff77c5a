# PyTorch CPU reference for examples/bench: one supervised ResNet-18 CIFAR training step
# (same architecture as resnet.ts), SGD momentum, cross-entropy. Prints one JSON line.
# usage: python3 torch_resnet.py threads batch width size channels steps
import json, sys
import torch, torch.nn as nn, torch.nn.functional as F
from torch_common import resnet18, median_seconds

threads, batch, width, size, channels, steps = [int(a) for a in sys.argv[1:7]]
torch.set_num_threads(threads)


torch.manual_seed(0)
features, dim = resnet18(width, channels)
net = nn.Sequential(features, nn.Linear(dim, 10)).train()
x = torch.randn(batch, channels, size, size)
y = torch.randint(0, 10, (batch,))
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss.item()


med = median_seconds(step, steps)
print(json.dumps({"name": f"torch resnet18-cifar w{width} {size}x{size}x{channels} b{batch}",
                  "imgPerSec": batch / med, "torch": torch.__version__}))
