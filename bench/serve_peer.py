#!/usr/bin/env python3
"""FastAPI + PyTorch peer for bench/serve.ts: serves the same seed-cnn architecture with the same weights (read from
the RadioLens bundle's model.json + weights.bin) at POST /predict (PNG, JPEG or DICOM body -> JSON probabilities),
with the same preprocessing as the card (grayscale, area resize to 28x28, /255). DICOM goes through pydicom and the
display transform RadioLens applies (Modality LUT, the file's VOI window or min-max, PS3.3 C.11.2.1.2 LINEAR,
MONOCHROME1 inverted, rounded to 8 bits)."""
import argparse
import io
import json
import os

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut
import torch
import torch.nn as nn
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image


class SeedCnn(nn.Module):
    """seed-cnn: 2 x (Conv 3x3 valid + ReLU + MaxPool 2), Dense 128 + ReLU, Dropout (inactive), Dense + softmax."""

    def __init__(self, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        # tfjs flattens NHWC; permute so the dense weights read the same order.
        x = x.permute(0, 2, 3, 1).flatten(1)
        x = torch.relu(self.fc1(x))
        return torch.softmax(self.fc2(x), dim=1)


def load_bundle(folder):
    with open(os.path.join(folder, "model.json")) as f:
        manifest = json.load(f)["weightsManifest"]
    with open(os.path.join(folder, "radiolens.json")) as f:
        card = json.load(f)
    raw = np.fromfile(os.path.join(folder, "weights.bin"), dtype="<f4")
    weights, off = {}, 0
    for group in manifest:
        for w in group["weights"]:
            n = int(np.prod(w["shape"]))
            weights[w["name"]] = raw[off:off + n].reshape(w["shape"])
            off += n
    model = SeedCnn(len(card["labels"]))
    by_suffix = {name.split("/", 1)[-1] if "/" in name else name: v for name, v in weights.items()}

    def get(layer, kind):
        for k, v in weights.items():
            if k.startswith(layer) and k.endswith(kind):
                return v
        raise KeyError(f"{layer} {kind} not in {list(by_suffix)}")

    with torch.no_grad():
        for name in ("conv1", "conv2"):
            conv = getattr(model, name)
            conv.weight.copy_(torch.from_numpy(get(name, "kernel").transpose(3, 2, 0, 1).copy()))
            conv.bias.copy_(torch.from_numpy(get(name, "bias").copy()))
        for name in ("fc1", "fc2"):
            fc = getattr(model, name)
            fc.weight.copy_(torch.from_numpy(get(name, "kernel").T.copy()))
            fc.bias.copy_(torch.from_numpy(get(name, "bias").copy()))
    return model.eval(), card


def dicom_display(body):
    """The 8-bit display image of a single-frame grey DICOM file, as RadioLens' dicomToImage(output "display")."""
    ds = pydicom.dcmread(io.BytesIO(body))
    x = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    c, w = ds.get("WindowCenter"), ds.get("WindowWidth")
    if c is None or w is None:
        lo, hi = float(x.min()), float(x.max())
        w = max(1.0, hi - lo + 1)
        c = lo + 0.5 + (w - 1) / 2
    else:
        c = float(c[0] if isinstance(c, pydicom.multival.MultiValue) else c)
        w = float(w[0] if isinstance(w, pydicom.multival.MultiValue) else w)
    lo, hi = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    y = np.where(x <= lo, 0.0, np.where(x > hi, 1.0, (x - (c - 0.5)) / (w - 1) + 0.5))
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 1.0 - y
    return Image.fromarray(np.round(y * 255).astype(np.uint8), mode="L")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, default=8099)
    a = ap.parse_args()
    model, card = load_bundle(a.model)
    rows, cols = card["input"]["shape"][0], card["input"]["shape"][1]
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request):
        body = await request.body()
        if len(body) > 132 and body[128:132] == b"DICM":
            img = dicom_display(body).resize((cols, rows), Image.BOX)
        else:
            img = Image.open(io.BytesIO(body)).convert("L").resize((cols, rows), Image.BOX)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).reshape(1, 1, rows, cols)
        with torch.inference_mode():
            p = model(x)[0].tolist()
        return JSONResponse({"probabilities": dict(zip(card["labels"], p))})

    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
