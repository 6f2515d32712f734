#!/usr/bin/env python3
"""PyTorch peer for bench/engine.ts: the same three architectures, batch sizes and thread counts; prints JSON lines."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def tutorial_cnn(ch, classes):
    # Conv 32 3x3 ReLU, MaxPool 2, Conv 64 3x3 ReLU, MaxPool 2, Flatten, Dense 128 ReLU, Dropout 0.5, Dense.
    return nn.Sequential(
        nn.Conv2d(ch, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, classes),
    )


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNet18(nn.Module):
    """ResNet-18 in its MedMNIST form: 3x3 stride-1 stem, no max-pool (He et al. 2016; Yang et al. 2023)."""

    def __init__(self, ch, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(ch, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        blocks, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def cnn224(ch, classes):
    # Conv 32/64/128 3x3 ReLU each followed by 2x2 max-pool ('same' padding as in the tfjs model), Dense 1024, Dense 10.
    return nn.Sequential(
        nn.Conv2d(ch, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128 * 28 * 28, 1024), nn.ReLU(), nn.Linear(1024, classes),
    )


CONFIGS = {
    "a": (tutorial_cnn, 32, (1, 28, 28), 10),
    "b": (ResNet18, 64, (1, 28, 28), 10),
    "c": (cnn224, 8, (3, 224, 224), 10),
}


def timed(fn, seconds):
    """(wall seconds, process CPU seconds) per step: two warm-up steps, then steps until `seconds` of wall time pass.

    The first warm-up step itself is returned only when it took 5x the budget (as bench/engine.ts does)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()  # warm-up (allocations, primitive creation)
    first = (time.perf_counter() - t0, time.process_time() - c0)
    if first[0] >= 5 * seconds:
        return first
    fn()
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        n += 1
        if time.perf_counter() - t0 >= seconds:
            return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    build, batch, shape, classes = CONFIGS[args.config]
    torch.manual_seed(0)
    x = torch.randn(batch, *shape)
    y = torch.randint(0, classes, (batch,))
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        model = build(shape[0], classes)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()

        def train_step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            loss.item()

        def infer_step():
            with torch.no_grad():
                torch.softmax(model(x), 1).numpy()

        model.train()
        t_train = timed(train_step, args.seconds)
        model.eval()
        t_infer = timed(infer_step, args.seconds)
        for mode, (wall, cpu) in (("train", t_train), ("infer", t_infer)):
            print(json.dumps({"config": args.config, "mode": mode, "threads": threads, "samplesPerSec": batch / wall,
                              "samplesPerCpuSec": batch / cpu, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
