#!/usr/bin/env python3
"""PyTorch peer of `radiolens train` for bench/train-process.ts: the whole process, doing what the CLI does.

Loads the MedMNIST .npz, scales to [0, 1], trains the same architecture (tutorial CNN or ResNet-18 (28), from
bench/engine_torch.py) with Adam 1e-3 on shuffled mini-batches, runs a validation pass (loss and accuracy, batch
256) after each epoch, saves a resumable checkpoint (model + optimizer) each epoch and the best one by val_loss,
and writes the final model. Prints one JSON line with the last epoch's metrics.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine_torch import ResNet18, tutorial_cnn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", choices=["seed-cnn", "resnet18-28"], required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    d = np.load(args.data)
    classes = int(d["train_labels"].max()) + 1

    def split(name):
        x = torch.from_numpy(d[f"{name}_images"].astype(np.float32) / 255.0).unsqueeze(1)
        y = torch.from_numpy(d[f"{name}_labels"].reshape(-1).astype(np.int64))
        return x, y

    xt, yt = split("train")
    xv, yv = split("val")
    model = tutorial_cnn(1, classes) if args.model == "seed-cnn" else ResNet18(1, classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    os.makedirs(os.path.join(args.out, "checkpoints"), exist_ok=True)
    best = float("inf")
    g = torch.Generator().manual_seed(1)
    metrics = {}
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), args.batch_size):
            idx = perm[i:i + args.batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        model.eval()
        total, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(xv), 256):
                logits = model(xv[i:i + 256])
                total += F.cross_entropy(logits, yv[i:i + 256], reduction="sum").item()
                correct += (logits.argmax(1) == yv[i:i + 256]).sum().item()
        metrics = {"epoch": epoch + 1, "loss": loss.item(), "val_loss": total / len(xv), "val_acc": correct / len(xv)}
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "metrics": metrics}
        torch.save(state, os.path.join(args.out, "checkpoints", "last.pt"))
        if metrics["val_loss"] < best:
            best = metrics["val_loss"]
            torch.save(state, os.path.join(args.out, "checkpoints", "best.pt"))
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
    print(json.dumps(metrics), flush=True)


if __name__ == "__main__":
    main()
