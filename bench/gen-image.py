#!/usr/bin/env python3
"""Writes a deterministic docker-archive (what `docker save` writes: uncompressed layer tars)
of a ~1 GiB, ~40k-file image in four layers, for the pull and load bench.

    gen-image.py OUT.tar [--scale F] [--tag REF]

The same arguments give the same bytes, so the same image ID on every run and every daemon.
File contents mix text (which gzip shrinks) and random bytes (which it cannot), like real
layers. --scale multiplies every file count and size (0.1 for a quick try).
"""
import argparse
import hashlib
import io
import json
import random
import tarfile

EPOCH = 1700000000
WORDS = (b"alpha beta gamma delta layer image registry manifest digest blob chain snapshot "
         b"overlay whiteout tar gzip config root volume mount container network ").split()


def text(rng, n):
    out = bytearray()
    while len(out) < n:
        out += b" ".join(rng.choice(WORDS) for _ in range(12)) + b"\n"
    return bytes(out[:n])


def mixed(rng, n):
    """Half random bytes, half text: compresses to roughly 60%."""
    half = n // 2
    return rng.randbytes(half) + text(rng, n - half)


def layers(scale):
    s = lambda x: max(1, int(x * scale))
    # (name, number of files, size of each, content kind)
    return [
        ("etc-like", s(16000), 2048, text),
        ("lib-like", s(16000), 16384, mixed),
        ("data", s(8000), 49152, mixed),
        ("blobs", 8, s(40 << 20), lambda rng, n: rng.randbytes(n // 2) + bytes(n - n // 2)),
    ]


class Hashing(io.RawIOBase):
    def __init__(self, dest):
        self.dest, self.h, self.n = dest, hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.dest.write(b)


def add(tar, name, data=None, mode=0o644):
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "root", "root"
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))


def layer_tar(out, index, name, count, size, kind):
    rng = random.Random(f"strata-bench-{index}")
    buf = io.BytesIO()
    hw = Hashing(buf)
    with tarfile.open(fileobj=hw, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        top = f"{name}"
        add(tar, top)
        per_dir = 100
        for d in range((count + per_dir - 1) // per_dir):
            dname = f"{top}/{d:04d}"
            add(tar, dname)
            for f in range(d * per_dir, min(count, (d + 1) * per_dir)):
                add(tar, f"{dname}/f{f:06d}", kind(rng, size + rng.randrange(size // 4 + 1)))
    return buf.getvalue(), "sha256:" + hw.h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--tag", default="bench/pull:1")
    a = ap.parse_args()
    with tarfile.open(a.out, "w", format=tarfile.GNU_FORMAT) as arc:
        diff_ids, paths = [], []
        for i, (name, count, size, kind) in enumerate(layers(a.scale)):
            data, diff_id = layer_tar(None, i, name, count, size, kind)
            path = f"{diff_id[7:]}/layer.tar"
            add(arc, diff_id[7:])
            add(arc, path, data)
            diff_ids.append(diff_id)
            paths.append(path)
            del data
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"bench layer {n}"}
                        for (n, *_ ) in layers(a.scale)],
        }, separators=(",", ":")).encode()
        cid = hashlib.sha256(config).hexdigest()
        add(arc, f"{cid}.json", config)
        manifest = [{"Config": f"{cid}.json", "RepoTags": [a.tag], "Layers": paths}]
        add(arc, "manifest.json", json.dumps(manifest).encode())
    print(f"sha256:{cid}")


main()
