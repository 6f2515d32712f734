#!/usr/bin/env python3
"""PyTorch peer for bench/infer.ts: the tutorial CNN (seed-cnn's layers, NCHW) in eval mode under
torch.inference_mode; images/s at batch 1 and 256 and p50 latency at batch 1 per thread count; prints JSON lines."""
import argparse
import json
import time

import torch
import torch.nn as nn


def tutorial_cnn(classes=2):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, classes),
        nn.Softmax(dim=1),
    ).eval()


def time_calls(fn, seconds, max_calls):
    for _ in range(5):
        fn()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and len(times) < max_calls:
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e6)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seconds", type=float, default=2.0)
    a = ap.parse_args()
    torch.manual_seed(1)
    model = tutorial_cnn()
    x1 = torch.rand(1, 1, 28, 28)
    x256 = torch.rand(256, 1, 28, 28)
    for t in [int(v) for v in a.threads.split(",") if v]:
        torch.set_num_threads(t)
        with torch.inference_mode():
            lat = time_calls(lambda: model(x1), a.seconds, 200000)
            big = time_calls(lambda: model(x256), a.seconds, 100000)
        lat_sorted = sorted(lat)
        print(json.dumps({
            "engine": "PyTorch 1.13",
            "threads": t,
            "b1PerSec": 1e6 / (sum(lat) / len(lat)),
            "p50us": lat_sorted[len(lat_sorted) // 2],
            "b256PerSec": 256 * 1e6 / (sum(big) / len(big)),
        }), flush=True)


if __name__ == "__main__":
    main()
