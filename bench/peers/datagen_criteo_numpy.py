#!/usr/bin/python3
"""Peer for `aiok datagen criteo`: the same kind of generator written the way a data scientist
would, with vectorized numpy and pandas, chunk by chunk.

Same layout (label, I1..I13, C1..C26 as 8 hex digits, TAB separated, empty = missing), same
kind of hidden model (Zipf-like category ranks, per-value effects, rank-4 pairwise factors,
Lomax counts with log1p effects, grouped missingness, intercept solved for the positive rate),
truth.f32 beside it. Not byte-identical to aiok (numpy's RNG is not aiok's counter hash); the
benchmark compares throughput on equal work.

usage: datagen_criteo_numpy.py --rows N --out DIR [--seed S] [--card-scale F] [--pos-rate P]
"""
import argparse
import os
import time

import numpy as np
import pandas as pd

CARD = [1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
        27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572]
DENSE_MISSING = [0.454, 0.0, 0.215, 0.221, 0.026, 0.224, 0.043, 0.0005, 0.043, 0.454, 0.043,
                 0.766, 0.221]
CAT_MISSING = [0.0, 0.0, 0.034, 0.034, 0.0, 0.121, 0.0, 0.0, 0.0, 0.0, 0.0, 0.034, 0.0, 0.0,
               0.0, 0.034, 0.0, 0.0, 0.440, 0.440, 0.034, 0.762, 0.0, 0.034, 0.440, 0.440]
DENSE_GROUP = [0, -1, 1, 1, 3, 1, 2, 4, 2, 0, 2, 5, 1]
CAT_GROUP = [-1, -1, 6, 6, -1, 8, -1, -1, -1, -1, -1, 6, -1, -1, -1, 6, -1, -1, 7, 7, 6, 9,
             -1, 6, 7, 7]
SCALE = [1.7, 3.0, 7.0, 12.0, 4500.0, 45.0, 4.0, 27.0, 70.0, 1.5, 2.5, 0.8, 10.0]
ALPHA = [1.5, 1.1, 1.3, 2.5, 1.2, 1.3, 1.1, 3.0, 1.6, 3.0, 1.5, 1.2, 2.0]
SLOPE = [0.30, 0.12, -0.08, 0.20, -0.10, 0.10, 0.25, 0.05, 0.12, 0.35, 0.30, 0.15, -0.10]
CURVE = [0.0, -0.03, 0.0, 0.0, -0.06, 0.0, -0.05, 0.0, -0.04, 0.0, 0.0, 0.0, 0.0]
EFFECT_STD = [0.30, 0.20, 0.35, 0.30, 0.20, 0.25, 0.30, 0.15, 0.15, 0.25, 0.30, 0.35, 0.20,
              0.30, 0.25, 0.30, 0.20, 0.25, 0.20, 0.15, 0.30, 0.10, 0.15, 0.30, 0.20, 0.25]
PAIRS = [(0, 1), (4, 13), (6, 9), (8, 16), (10, 18), (14, 25)]
FACTOR_STD, RANK, CHUNK = 0.45, 4, 200_000


class Model:
    def __init__(self, rng, card_scale):
        self.card = [max(min(c, 2), int(round(c * card_scale))) for c in CARD]
        self.expo = [1.10 if c >= 100000 else (1.05 if c >= 1000 else 0.90) for c in CARD]
        self.effect = [rng.normal(0, s, n).astype(np.float32) for s, n in zip(EFFECT_STD, self.card)]
        # Distinct random 32-bit values per rank (the hashed category ids).
        self.values = [rng.choice(2**32, size=n, replace=False).astype(np.uint32)
                       for n in self.card]
        self.factors = {(p, side): rng.normal(0, FACTOR_STD, (self.card[PAIRS[p][side]], RANK))
                        .astype(np.float32) for p in range(len(PAIRS)) for side in (0, 1)}
        self.miss_dense = rng.normal(0, 0.4, 13)
        self.miss_cat = rng.normal(0, 0.4, 26)
        self.centre = np.log1p(np.array(SCALE) * (2.0 ** (1.0 / np.array(ALPHA)) - 1.0))

    def rows(self, rng, n):
        group_u = rng.random((10, n))
        logit = np.zeros(n)
        dense, dense_missing = [], []
        for d in range(13):
            u = group_u[DENSE_GROUP[d]] if DENSE_GROUP[d] >= 0 else rng.random(n)
            missing = u < DENSE_MISSING[d]
            x = np.minimum(SCALE[d] * ((1.0 - rng.random(n)) ** (-1.0 / ALPHA[d]) - 1.0), 1e8)
            v = x.astype(np.int64)
            if d == 1:
                neg = rng.random(n) < 0.05
                v[neg] = -rng.integers(1, 4, neg.sum())
            f = np.log1p(np.maximum(v, 0)) - self.centre[d]
            logit += np.where(missing, self.miss_dense[d], SLOPE[d] * f + CURVE[d] * f * f)
            dense.append(v)
            dense_missing.append(missing)
        ranks, cat_missing = [], []
        for c in range(26):
            u = group_u[CAT_GROUP[c]] if CAT_GROUP[c] >= 0 else rng.random(n)
            missing = u < CAT_MISSING[c]
            s = self.expo[c]
            a = (self.card[c] + 1.0) ** (1.0 - s) - 1.0
            r = np.clip((1.0 + rng.random(n) * a) ** (1.0 / (1.0 - s)), 1, self.card[c]).astype(np.int64) - 1
            logit += np.where(missing, self.miss_cat[c], self.effect[c][r])
            ranks.append(r)
            cat_missing.append(missing)
        for p, (a, b) in enumerate(PAIRS):
            both = ~(cat_missing[a] | cat_missing[b])
            dot = (self.factors[(p, 0)][ranks[a]] * self.factors[(p, 1)][ranks[b]]).sum(1)
            logit += np.where(both, dot, 0.0)
        return logit, dense, dense_missing, ranks, cat_missing


def solve_intercept(scores, rate):
    b = np.log(rate / (1 - rate))
    for _ in range(50):
        p = 1 / (1 + np.exp(-(b + scores)))
        step = (p.mean() - rate) / max((p * (1 - p)).mean(), 1e-12)
        b -= step
        if abs(step) < 1e-10:
            break
    return b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rows', type=int, required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--card-scale', type=float, default=1.0)
    ap.add_argument('--pos-rate', type=float, default=0.25)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    rng = np.random.default_rng(args.seed)
    model = Model(rng, args.card_scale)
    intercept = solve_intercept(model.rows(rng, min(args.rows, 200_000))[0], args.pos_rate)
    hex_names = np.array([f'{i:02x}' for i in range(256)])
    with open(os.path.join(args.out, 'train.txt'), 'w') as data, \
            open(os.path.join(args.out, 'truth.f32'), 'wb') as truth_file:
        for begin in range(0, args.rows, CHUNK):
            n = min(CHUNK, args.rows - begin)
            logit, dense, dense_missing, ranks, cat_missing = model.rows(rng, n)
            truth = (1 / (1 + np.exp(-(logit + intercept)))).astype(np.float32)
            label = (rng.random(n) < truth).astype(np.int8)
            frame = {'label': label}
            for d in range(13):
                col = pd.array(dense[d], dtype='Int64')
                col[dense_missing[d]] = pd.NA
                frame[f'I{d + 1}'] = col
            for c in range(26):
                v = model.values[c][ranks[c]]
                # Hex digits byte by byte through a lookup table, big-endian order.
                b = v.astype('>u4').view(np.uint8).reshape(n, 4)
                text = (hex_names[b[:, 0]].astype(object) + hex_names[b[:, 1]] +
                        hex_names[b[:, 2]] + hex_names[b[:, 3]])
                text[cat_missing[c]] = ''
                frame[f'C{c + 1}'] = text
            pd.DataFrame(frame).to_csv(data, sep='\t', header=False, index=False)
            truth.tofile(truth_file)
    seconds = time.time() - start
    size = os.path.getsize(os.path.join(args.out, 'train.txt'))
    print(f'numpy datagen: {args.rows} rows, {size / 1e6:.1f} MB in {seconds:.1f}s '
          f'({size / 1e6 / seconds:.1f} MB/s)')


if __name__ == '__main__':
    main()
