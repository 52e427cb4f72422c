"""OPTIONAL reference, not part of the project: times the seed's cnn_reg in PyTorch eager CPU.

Never run by tests and never a dependency. Needs Debian's python3-torch
(`apt-get install -y python3-torch`). Same workload as `deno task bench` for cnn_reg: 150x150x3,
batch 8, Conv 64/32/32/20 3x3 ReLU + 2x2 max-pool, dropout 0.3 after the first three blocks,
L2 1e-3 on the conv kernels, Dense 80 ReLU, sigmoid, Adam 1e-3, binary cross-entropy.

    python3 bench/pytorch_reference.py [--threads 1] [--steps 10]

Prints one JSON line: wall and CPU ms per image for training and prediction (medians), and for
training the median over "quiet" steps, during which other processes used at most 10% of one CPU
(from /proc/stat), as bench/model_bench.ts does for ours.
"""
import argparse
import json
import os
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


QUIET_SHARE = 0.1  # as bench/model_bench.ts: others used at most this share of one CPU


def machine_busy_ms():
    """Busy CPU ms of the whole machine so far (all CPUs), from /proc/stat; 0 elsewhere."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    return (v[0] + v[1] + v[2] + v[5] + v[6]) * tick  # user nice system irq softirq


def timed(fn, steps, warmup=1):
    wall, cpu, others = [], [], []
    for i in range(warmup + steps):
        w0, c0, m0 = time.perf_counter(), time.process_time(), machine_busy_ms()
        fn()
        if i >= warmup:
            w, c = (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000
            wall.append(w)
            cpu.append(c)
            others.append(max(0.0, machine_busy_ms() - m0 - c))
    quiet = [w for w, o in zip(wall, others) if o <= QUIET_SHARE * w]
    return {
        "wall": statistics.median(wall), "cpu": statistics.median(cpu),
        "quiet": statistics.median(quiet) if len(quiet) >= 3 else None,
        "stepMs": [round(w, 1) for w in wall], "othersCpuMs": [round(o, 1) for o in others],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
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
    tr = timed(train_step, args.steps, args.warmup)
    model.eval()
    pr = timed(predict, args.steps, args.warmup)
    b = args.batch
    print(json.dumps({
        "torch": torch.__version__, "threads": args.threads, "batch": b,
        "trainMsPerImage": round(tr["wall"] / b, 2), "trainCpuMsPerImage": round(tr["cpu"] / b, 2),
        "trainQuietMsPerImage": None if tr["quiet"] is None else round(tr["quiet"] / b, 2),
        "trainStepMs": tr["stepMs"], "trainOthersCpuMs": tr["othersCpuMs"],
        "predictMsPerImage": round(pr["wall"] / b, 2), "predictCpuMsPerImage": round(pr["cpu"] / b, 2),
    }))


if __name__ == "__main__":
    main()
