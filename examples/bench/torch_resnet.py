# PyTorch CPU reference for examples/bench: one supervised ResNet-18 CIFAR training step
# (same architecture as resnet.ts), SGD momentum, cross-entropy. Prints one JSON line.
# usage: python3 torch_resnet.py threads batch width size channels steps
import json, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

threads, batch, width, size, channels, steps = [int(a) for a in sys.argv[1:7]]
torch.set_num_threads(threads)


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


class ResNet18(nn.Module):
    def __init__(self, w, cin, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(cin, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        cfg = [(w, w, 1), (w, w, 1), (w, 2 * w, 2), (2 * w, 2 * w, 1),
               (2 * w, 4 * w, 2), (4 * w, 4 * w, 1), (4 * w, 8 * w, 2), (8 * w, 8 * w, 1)]
        self.blocks = nn.Sequential(*[Block(*c) for c in cfg])
        self.fc = nn.Linear(8 * w, classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1))


torch.manual_seed(0)
net = ResNet18(width, channels).train()
x = torch.randn(batch, channels, size, size)
y = torch.randint(0, 10, (batch,))
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss.item()


step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
med = sorted(times)[len(times) // 2]
print(json.dumps({"name": f"torch resnet18-cifar w{width} {size}x{size}x{channels} b{batch}",
                  "imgPerSec": batch / med, "torch": torch.__version__}))
