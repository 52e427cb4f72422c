"""OPTIONAL reference, not part of the project: times the seed's cnn_reg in PyTorch eager CPU.

Never run by tests and never a dependency. Needs Debian's python3-torch
(`apt-get install -y python3-torch`). Same workload as `deno task bench` for cnn_reg: 150x150x3,
batch 8, Conv 64/32/32/20 3x3 ReLU + 2x2 max-pool, dropout 0.3 after the first three blocks,
L2 1e-3 on the conv kernels, Dense 80 ReLU, sigmoid, Adam 1e-3, binary cross-entropy.

    python3 bench/pytorch_reference.py [--threads 1] [--steps 10]

Prints one JSON line: wall and CPU ms per image for training and prediction (medians).
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def build() -> nn.Module:
    layers, cin = [], 3
    for i, cout in enumerate([64, 32, 32, 20]):
        layers += [nn.Conv2d(cin, cout, 3), nn.ReLU(), nn.MaxPool2d(2)]
        if i < 3:
            layers.append(nn.Dropout(0.3))
        cin = cout
    layers += [nn.Flatten(), nn.Linear(20 * 7 * 7, 80), nn.ReLU(), nn.Linear(80, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


def timed(fn, steps, warmup=1):
    wall, cpu = [], []
    for i in range(warmup + steps):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        if i >= warmup:
            wall.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCELoss()
    x = torch.rand(args.batch, 3, 150, 150)
    y = torch.tensor([[float(i % 2)] for i in range(args.batch)])
    convs = [m.weight for m in model if isinstance(m, nn.Conv2d)]

    def train_step():
        opt.zero_grad()
        loss = loss_fn(model(x), y) + 1e-3 * sum((w * w).sum() for w in convs)
        loss.backward()
        opt.step()

    def predict():
        with torch.no_grad():
            model(x)

    model.train()
    tw, tc = timed(train_step, args.steps)
    model.eval()
    pw, pc = timed(predict, args.steps)
    b = args.batch
    print(json.dumps({
        "torch": torch.__version__, "threads": args.threads, "batch": b,
        "trainMsPerImage": round(tw / b, 2), "trainCpuMsPerImage": round(tc / b, 2),
        "predictMsPerImage": round(pw / b, 2), "predictCpuMsPerImage": round(pc / b, 2),
    }))


if __name__ == "__main__":
    main()
