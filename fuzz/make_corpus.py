#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/seed-* : small valid files of each format.

Run from anywhere: `python3 fuzz/make_corpus.py`. Deterministic (no randomness), so rerunning it
rewrites the same bytes. Inputs found by fuzzing are merged into the same folders by fuzz/run.sh and
are not touched here. Needs Python 3 and numpy.
"""
import gzip
import hashlib
import io
import json
import os
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def idx(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def riff(chunks):
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def chunk(tag, body):
    return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def fmt(tag, channels, rate, bits):
    align = channels * bits // 8
    return chunk(b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits))


def extensible(sub, channels, rate, bits):
    align = channels * bits // 8
    body = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * align, align, bits)
    body += struct.pack("<HHI", 22, bits, 4) + struct.pack("<H", sub) + bytes.fromhex("000000001000800000AA00389B71")
    return chunk(b"fmt ", body)


def seal(payload):
    return b"LREPCKPT" + struct.pack("<IQ", 1, len(payload)) + hashlib.sha256(payload).digest() + payload


def main():
    ramp = np.arange(24)
    put("npy", "f4-2x3.npy", npy_bytes(ramp[:6].reshape(2, 3).astype("<f4")))
    put("npy", "f8-fortran.npy", npy_bytes(np.asfortranarray(ramp[:6].reshape(2, 3).astype("<f8"))))
    put("npy", "i8-5.npy", npy_bytes(ramp[:5].astype("<i8")))
    put("npy", "be-i4-2x2.npy", npy_bytes(ramp[:4].reshape(2, 2).astype(">i4")))
    put("npy", "u1-2x2x2.npy", npy_bytes(ramp[:8].reshape(2, 2, 2).astype("u1")))
    put("npy", "b1-3.npy", npy_bytes(np.array([True, False, True])))
    put("npy", "scalar.npy", npy_bytes(np.array(1.5, dtype="<f4")))
    put("npy", "empty-0x3.npy", npy_bytes(np.zeros((0, 3), dtype="<f4")))
    put("npy", "v2.npy", npy_bytes(ramp[:3].astype("<f4"), version=(2, 0)))
    put("npy", "v3.npy", npy_bytes(ramp[:3].astype("<i4"), version=(3, 0)))

    labels = idx(2049, [4], bytes([0, 9, 3, 1]))
    images = idx(2051, [2, 3, 3], bytes(range(18)))
    for target in ("idx_raw", "idx_gz"):
        put(target, "labels.idx", labels)
        put(target, "images.idx", images)
        put(target, "empty.idx", idx(2049, [0], b""))
        put(target, "4d.idx", idx(0x0804, [1, 2, 2, 2], bytes(range(8))))
    put("idx_raw", "labels.idx.gz", gz(labels))
    put("idx_raw", "images.idx.gz", gz(images))

    pixels = bytes((i * 7) % 256 for i in range(3072))
    put("cifar10", "1.bin", bytes([3]) + pixels)
    put("cifar10", "2.bin", bytes([0]) + pixels + bytes([9]) + pixels[::-1])
    put("cifar100", "1.bin", bytes([19, 99]) + pixels)
    put("cifar100", "2.bin", bytes([0, 0]) + pixels + bytes([7, 42]) + pixels[::-1])

    put("glove", "3d.txt", b"the 0.418 0.24968 -0.41242\ncat 0.45281 -0.50108 -0.53714\n"
                           b". 0.15164 0.30177 -0.16763\n... -1e-3 2.5E+2 7\n")
    put("glove", "crlf.txt", b"aquarium 1 2\r\nfish -3 4\r\n")
    put("glove", "1d.txt", b"dog 0.5\n")

    samples = struct.pack("<8h", 0, 1000, -1000, 32767, -32768, 5, -5, 0)
    put("wav", "pcm16-mono.wav", riff(fmt(1, 1, 22050, 16) + chunk(b"data", samples)))
    put("wav", "pcm16-stereo.wav", riff(fmt(1, 2, 44100, 16) + chunk(b"data", samples)))
    put("wav", "pcm8.wav", riff(fmt(1, 1, 8000, 8) + chunk(b"data", bytes(range(0, 256, 32)))))
    put("wav", "pcm24.wav", riff(fmt(1, 1, 48000, 24) + chunk(b"data", bytes(range(12)))))
    put("wav", "pcm32.wav", riff(fmt(1, 1, 16000, 32) + chunk(b"data", bytes(range(16)))))
    put("wav", "float32.wav", riff(fmt(3, 1, 24000, 32) + chunk(b"data", struct.pack("<4f", 0.0, 0.5, -0.5, 1.0))))
    put("wav", "float64.wav", riff(fmt(3, 1, 24000, 64) + chunk(b"data", struct.pack("<2d", 0.25, -0.25))))
    put("wav", "extensible.wav", riff(extensible(1, 2, 22050, 16) + chunk(b"data", samples)))
    put("wav", "list-after-data.wav",
        riff(fmt(1, 1, 22050, 16) + chunk(b"data", samples[:6]) + chunk(b"LIST", b"INFOISFT\x03\0\0\0ab\0\0")))
    put("wav", "odd-chunk.wav", riff(chunk(b"junk", b"abc") + fmt(1, 1, 22050, 8) + chunk(b"data", b"\x80\x90\x70")))

    put("ckpt_envelope", "empty.ckpt", seal(b""))
    put("ckpt_envelope", "hello.ckpt", seal(b"hello"))
    put("ckpt_envelope", "zip.ckpt", seal(b"PK\x03\x04" + bytes(range(60))))

    config = {"dataset": "fashion-mnist", "data_dir": "", "label": "speech", "label_seed": 7, "label_size": 64,
              "encoder": "resnet32", "device": "cpu", "epochs": 10, "batch_size": 128, "learning_rate": 0.1,
              "momentum": 0.9, "weight_decay": -1.0, "milestones": [0.5, 0.75], "warmup_epochs": 0.0, "seed": 0,
              "validation": 5000, "level": 100.0, "level_base": "pool", "threshold": 3.5, "pad_to": -1,
              "crop_padding": 4, "horizontal_flip": True, "channels_last": True, "checkpoint_every_steps": 0,
              "threads": 0, "progress": False, "out": "runs/a"}
    put("json_cfg", "config.json", json.dumps(config, indent=2).encode() + b"\n")
    put("json_cfg", "config-small.json", b'{"dataset": "cifar10", "data_dir": "/d", "epochs": 1, "out": "r"}')
    metadata = {"format": "labelrep-labels", "labelrep_version": "0.1.0", "kind": "uniform", "classes": 2,
                "label_shape": [4, 4], "class_names": ["cat", "dog"], "seed": 3, "range": [0.0, 1.0],
                "description": "uniform random"}
    put("json_cfg", "labels.npy.json", json.dumps(metadata, indent=2).encode() + b"\n")


if __name__ == "__main__":
    main()
