#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""btrfs-misplaced.py ORIG_DIR FS_DIR DEV: for every file of ORIG_DIR whose
copy in FS_DIR reads back different, find (by 4 KiB block hashes) where on
DEV the right data is and whose data was read instead.  One line a run of
wrong blocks, then a verdict:
  misplaced  every wrong block's right data is on DEV: the file system
             points the file at the wrong blocks (the device wrote it all)
  missing    some right data is nowhere on DEV
Exits 0 if every file matches, 1 otherwise."""
import hashlib
import os
import sys

B = 4096


def key(b):
    return hashlib.blake2b(b, digest_size=12).digest()


def span(xs):
    if not xs:
        return "nowhere"
    if xs == list(range(xs[0], xs[0] + len(xs))):
        return "%d-%d" % (xs[0], xs[-1]) if len(xs) > 1 else str(xs[0])
    return "scattered (%d..%d)" % (min(xs), max(xs))


def main(orig, fs, dev):
    names = sorted(os.listdir(orig))
    data = {n: open(os.path.join(orig, n), "rb").read() for n in names}
    where_orig = {}
    for n in names:
        for i in range(0, len(data[n]), B):
            where_orig.setdefault(key(data[n][i:i + B]), "%s:%d" % (n, i // B))
    on_dev = {}
    with open(dev, "rb") as f:
        blk = 0
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            for i in range(0, len(chunk), B):
                b = chunk[i:i + B]
                if b.count(0) != len(b):
                    on_dev.setdefault(key(b), blk + i // B)
            blk += len(chunk) // B
    bad = missing = 0
    for n in names:
        got = open(os.path.join(fs, n), "rb").read()
        want = data[n]
        runs, run = [], []
        for i in range(0, len(want), B):
            if want[i:i + B] != got[i:i + B]:
                if run and run[-1] + 1 != i // B:
                    runs.append(run)
                    run = []
                run.append(i // B)
        if run:
            runs.append(run)
        for r in runs:
            bad += 1
            right = [on_dev.get(key(want[k * B:(k + 1) * B])) for k in r]
            missing += right.count(None)
            read = [where_orig.get(key(got[k * B:(k + 1) * B]), "?") for k in r]
            print("%s blocks %d-%d: right data on %s at 4K blocks %s; read instead: %s" %
                  (n, r[0], r[-1], dev, span([x for x in right if x is not None]),
                   " ".join(read[:4]) + (" ..." if len(read) > 4 else "")))
    if not bad:
        return 0
    print("verdict: " + ("missing" if missing else "misplaced"))
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
