#!/usr/bin/env python3
"""The data pipeline of shared/reference/pytorch_reference.py `epoch`, without its model step.

Same dataset files, same transforms (Pad(2), RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor,
Normalize((0.2860,), (0.3530,))), same DataLoader (batch 128, shuffle, 4 workers), batches moved to the
device as float32. Prints one JSON line with images per second over full epochs.
"""
import argparse, gzip, json, os, shutil, tempfile, time
import torch
from torchvision import datasets, transforms

p = argparse.ArgumentParser()
p.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--device", default="cpu")
p.add_argument("--workers", type=int, default=4)
p.add_argument("--epochs", type=int, default=1)
a = p.parse_args()
root = tempfile.mkdtemp()
raw = os.path.join(root, "FashionMNIST", "raw")
os.makedirs(raw)
for f in os.listdir(a.fashion_mnist):
    if f.endswith(".gz"):
        with gzip.open(os.path.join(a.fashion_mnist, f)) as src, open(os.path.join(raw, f[:-3]), "wb") as dst:
            shutil.copyfileobj(src, dst)
tf = transforms.Compose([transforms.Pad(2), transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                         transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
ds = datasets.FashionMNIST(root, train=True, download=False, transform=tf)
loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True, num_workers=a.workers)
t = time.perf_counter(); n = 0
for _ in range(a.epochs):
    for x, y in loader:
        x, y = x.to(a.device), y.to(a.device)
        n += x.size(0)
if a.device.startswith("cuda"):
    torch.cuda.synchronize()
print(json.dumps({"images_per_s": n / (time.perf_counter() - t), "images": n, "workers": a.workers}))
shutil.rmtree(root)
