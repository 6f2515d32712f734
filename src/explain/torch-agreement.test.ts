/** Grad-CAM, Grad-CAM++ and input gradients agree with an independent PyTorch autograd implementation (python3-torch) on the seed CNN. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { Rng } from "../core/rng.js";
import { initEngine, tf } from "../engine/backend.js";
import { createSeedCnn } from "../models/seed-cnn.js";
import { gradCam, gradCamPlusPlus } from "./gradcam.js";
import { vanillaGradient } from "./gradients.js";

const PYTHON = process.env["RADIOLENS_PYTHON"] ?? "/usr/bin/python3";

/**
 * The seed CNN in PyTorch with the same weights (HWIO → OIHW kernels; the flatten reads NHWC as tfjs does),
 * Grad-CAM / Grad-CAM++ on pool2 (5 × 5, the default layer) and conv2 (11 × 11) written from the papers, cells
 * placed at their receptive-field centres (offset 4.5 stride 4, and offset 3.5 stride 2, on 28 × 28) with
 * bilinear sampling, and |∂logit/∂x|.
 */
const SCRIPT = `
import json, sys
import numpy as np, torch
import torch.nn.functional as F
d = json.load(sys.stdin)
W = [torch.tensor(np.array(w["v"], dtype=np.float32).reshape(w["s"])) for w in d["weights"]]
k = d["k"]
x = torch.tensor(np.array(d["x"], dtype=np.float32).reshape(1, 28, 28, 1)).permute(0, 3, 1, 2).contiguous()
x.requires_grad_(True)
def forward(x):
    h = F.max_pool2d(F.relu(F.conv2d(x, W[0].permute(3, 2, 0, 1), W[1])), 2)
    c = F.relu(F.conv2d(h, W[2].permute(3, 2, 0, 1), W[3]))
    c.retain_grad()
    a = F.max_pool2d(c, 2)
    a.retain_grad()
    f = a.permute(0, 2, 3, 1).reshape(1, -1)
    z = F.relu(f @ W[4] + W[5])
    return c, a, z @ W[6] + W[7]
c, a, logits = forward(x)
logits[0, k].backward()
def place(cam, off, stride):
    n = cam.shape[0]
    f = np.clip((np.arange(28) - off) / stride, 0, n - 1)
    i0 = np.floor(f).astype(int); i1 = np.minimum(i0 + 1, n - 1); w = f - i0
    rows = cam[i0, :] * (1 - w)[:, None] + cam[i1, :] * w[:, None]
    out = rows[:, i0] * (1 - w)[None, :] + rows[:, i1] * w[None, :]
    m = out.max()
    return (out / m if m > 0 else out).ravel().tolist()
def cams(t, off, stride):
    A, g = t.detach()[0].numpy().astype(np.float64), t.grad[0].numpy().astype(np.float64)
    wc = g.mean(axis=(1, 2))
    cam = np.maximum((A * wc[:, None, None]).sum(0), 0)
    g2 = g ** 2; g3 = g2 * g
    den = 2 * g2 + A.sum(axis=(1, 2), keepdims=True) * g3
    alpha = np.where(g != 0, g2 / np.where(den != 0, den, 1), 0)
    wpp = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    campp = np.maximum((A * wpp[:, None, None]).sum(0), 0)
    return place(cam, off, stride), place(campp, off, stride)
out = {}
out["gradcam"], out["gradcampp"] = cams(a, 4.5, 4.0)
out["gradcam_conv2"], out["gradcampp_conv2"] = cams(c, 3.5, 2.0)
gx = np.abs(x.grad[0, 0].numpy().astype(np.float64))
out["gradient"] = (gx / gx.max()).ravel().tolist()
json.dump(out, sys.stdout)
`;

test("Grad-CAM, Grad-CAM++ and gradients match PyTorch autograd on the seed CNN", {
  timeout: 180_000,
}, async () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: apt-get install -y python3-torch`);
  const rng = new Rng(8);
  const x = Float32Array.from({ length: 28 * 28 }, () => rng.float());
  const peers = new Map<number, Record<string, number[]>>();
  const diffs: string[] = [];
  // conv2 feeds a max-pooling: tfjs-backend-wasm 4.22's MaxPoolGrad drops the gradient of tied (all-zero) windows
  // in every channel but the first, so the CAM on conv2 is compared on the cpu backend only (see camLayer).
  for (const backend of ["wasm", "cpu"] as const) {
    await initEngine({ backend });
    const model = createSeedCnn({ numClasses: 2, seed: 2 });
    const weights = model.getWeights().map((w) => ({ s: w.shape, v: Array.from(w.dataSync()) }));
    const t = tf.tensor4d(x, [1, 28, 28, 1]);
    const before = tf.memory().numTensors;
    for (const k of [0, 1]) {
      const ours: Record<string, Float32Array> = {
        gradcam: gradCam(model, t, { classIndex: k }).data,
        gradcampp: gradCamPlusPlus(model, t, { classIndex: k }).data,
        gradient: vanillaGradient(model, t, { classIndex: k }).data,
      };
      if (backend === "cpu") {
        ours["gradcam_conv2"] = gradCam(model, t, { classIndex: k, layer: "conv2" }).data;
        ours["gradcampp_conv2"] = gradCamPlusPlus(model, t, { classIndex: k, layer: "conv2" }).data;
      }
      let peer = peers.get(k);
      if (!peer) {
        peer = JSON.parse(
          execFileSync(PYTHON, ["-c", SCRIPT], {
            input: JSON.stringify({ weights, x: Array.from(x), k }),
            encoding: "utf8",
          }),
        ) as Record<string, number[]>;
        peers.set(k, peer);
      }
      for (const [name, a] of Object.entries(ours)) {
        const b = peer[name] as number[];
        assert.equal(a.length, b.length);
        assert.ok(
          Math.max(...a) > 0.99,
          `${name} class ${k}: an all-zero map would make the comparison empty`,
        );
        let worst = 0;
        for (let i = 0; i < a.length; i++)
          worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
        assert.ok(worst < 1e-4, `${backend} ${name} class ${k}: max difference ${worst} from PyTorch`);
        diffs.push(`${backend} ${name}/${k} ${worst.toExponential(1)}`);
      }
    }
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
    model.dispose();
  }
  console.log(`max |ours − PyTorch|: ${diffs.join(", ")}`);
});
