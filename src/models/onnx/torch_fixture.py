"""Builds two PyTorch 1.13 models with fixed seeds, exports them with torch.onnx.export, and scores inputs.

Used by import.test.ts: the tutorial CNN (PyTorch's MNIST example) and a small ResNet with batch norm, both
NCHW, exported at opset 13 with a dynamic batch axis. The raw images (31 random HU-like images written by the
test, plus a CT read here with pydicom) are preprocessed independently of RadioLens with numpy, following the
card: window (center 40, width 400, to [0, 1]) -> 2x2 area mean when the image is 128x128 -> (x - 0.5) / 0.25.

usage: python3 torch_fixture.py OUT_DIR RAW_F32 N_RAW DICOM_PATH
writes OUT_DIR/{cnn,resnet,seg}.onnx, OUT_DIR/{cnn,resnet,seg}.probs.f32 (seg: softmax maps channels-last), OUT_DIR/inputs.f32 (the preprocessed batch).
"""

import sys

import numpy as np
import pydicom
import torch
import torch.nn as nn
import torch.nn.functional as F

SIZE = 64
CENTER, WIDTH = 40.0, 400.0
MEAN, STD = 0.5, 0.25


class TutorialCnn(nn.Module):
    """github.com/pytorch/examples mnist/main.py Net, logits out (3 classes)."""

    def __init__(self, classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(64 * ((SIZE - 4) // 2) ** 2, 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return self.fc2(x)


class Block(nn.Module):
    """He et al. 2016 basic block with a 1x1 projection when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class SmallResNet(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layers = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class TinySegmenter(nn.Module):
    """Two convolutions with batch norm to a [N, 2, H, W] logit map (background, lesion)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 2, 1))

    def forward(self, x):
        return self.body(x)


def perturb_bn(model, gen):
    """Running statistics away from 0/1, so a card or runtime that ignored them would show."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=gen) - 0.5)


def preprocess(hu):
    lo = CENTER - WIDTH / 2
    x = np.clip((hu.astype(np.float64) - lo) / WIDTH, 0.0, 1.0)
    if x.shape[0] == 2 * SIZE:
        x = x.reshape(SIZE, 2, SIZE, 2).mean(axis=(1, 3))
    return ((x - MEAN) / STD).astype(np.float32)


def main():
    out, raw_path, n_raw, dicom_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    raw = np.fromfile(raw_path, dtype=np.float32).reshape(n_raw, SIZE, SIZE)
    ds = pydicom.dcmread(dicom_path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    batch = np.stack([preprocess(r) for r in raw] + [preprocess(hu)])[:, None, :, :]
    batch.astype(np.float32).tofile(f"{out}/inputs.f32")
    x = torch.from_numpy(batch)
    torch.set_num_threads(1)
    for name, ctor, seed in (("cnn", TutorialCnn, 1), ("resnet", SmallResNet, 2), ("seg", TinySegmenter, 3)):
        torch.manual_seed(seed)
        model = ctor()
        with torch.no_grad():
            perturb_bn(model, torch.Generator().manual_seed(seed))
        model.eval()
        torch.onnx.export(
            model,
            torch.zeros(1, 1, SIZE, SIZE),
            f"{out}/{name}.onnx",
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=13,
        )
        with torch.no_grad():
            probs = torch.softmax(model(x), dim=1)
            if probs.dim() == 4:
                probs = probs.permute(0, 2, 3, 1)  # channels-last, as RadioLens returns maps
            probs = probs.contiguous().numpy().astype(np.float32)
        probs.tofile(f"{out}/{name}.probs.f32")


if __name__ == "__main__":
    main()
