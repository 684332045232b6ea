#!/usr/bin/env python3
"""Best-practice PyTorch eager training step, for the GPU fast-path comparison (issue: GPU fast path).

The same model as `pytorch_reference.py train` (its build()), trained the way a careful PyTorch user
would on a GPU: bf16 autocast, channels_last, batch 512, SGD with momentum, no loss.item() per step.
Prints one JSON line {"images_per_s": ...}. Works with torch 1.13 and 2.x, on CPU (bf16 autocast on
the CPU) or CUDA.

  python3 reference_fast_train.py --reference-dir ../shared/reference [--model resnet32] [--label speech]
                                  [--batch 512] [--steps 40] [--device cuda]
"""
import argparse, json, os, sys, time

p = argparse.ArgumentParser()
p.add_argument("--reference-dir", required=True, help="directory of pytorch_reference.py")
p.add_argument("--model", default="resnet32")
p.add_argument("--label", default="speech")
p.add_argument("--batch", type=int, default=512)
p.add_argument("--steps", type=int, default=40)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--device", default="cuda")
a = p.parse_args()
sys.path.insert(0, os.path.abspath(a.reference_dir))
import torch
import torch.nn as nn
from pytorch_reference import build, sync, targets

torch.manual_seed(0)
torch.backends.cudnn.benchmark = True
m = build(a.model, a.label).to(a.device).to(memory_format=torch.channels_last).train()
crit = nn.CrossEntropyLoss() if a.label == "category" else nn.SmoothL1Loss()
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
x = torch.randn(a.batch, 3, 32, 32, device=a.device).contiguous(memory_format=torch.channels_last)
y = targets(a.label, a.batch, a.device)
dev_type = "cuda" if a.device.startswith("cuda") else "cpu"
for i in range(a.warmup + a.steps):
    if i == a.warmup:
        sync(a.device); t = time.perf_counter()
    with torch.autocast(dev_type, dtype=torch.bfloat16):
        out = m(x)
    loss = crit(out.float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
sync(a.device)
print(json.dumps({"images_per_s": round(a.steps * a.batch / (time.perf_counter() - t), 2), "model": a.model, "label": a.label,
                  "batch": a.batch, "device": a.device, "precision": "bf16", "torch": torch.__version__}))
