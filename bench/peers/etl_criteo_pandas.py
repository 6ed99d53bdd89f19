#!/usr/bin/python3
"""Peer for `aiok etl --preset criteo`: the same pipeline in pandas, as a data scientist would
write it (one process, vectorized where pandas allows).

  I1..I13: fillna(0) -> clip(lower=0) -> log1p, as float32
  C1..C26: hex -> 32-bit value; ids by frequency on the train split: 0 missing, 1 rare
           (count < threshold) or unseen, 2.. by descending count, ties by ascending value
  splits:  Kaggle days by row (days 0-5 train, day 6 halves valid/test)

Writes OUT/<split>.label.u8, OUT/<split>.dense.f32 (rows x 13), OUT/<split>.cat.i32 (rows x 26),
the same row-major blocks as one aiok shard, so the benchmark can compare outputs exactly.

usage: etl_criteo_pandas.py --input train.txt --out DIR [--freq-threshold 3]
"""
import argparse
import os
import time

import numpy as np
import pandas as pd

DENSE = [f'I{i}' for i in range(1, 14)]
CATS = [f'C{i}' for i in range(1, 27)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--input', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--freq-threshold', type=int, default=3)
    args = ap.parse_args()
    start = time.time()
    df = pd.read_csv(args.input, sep='\t', header=None, names=['label'] + DENSE + CATS,
                     dtype={c: str for c in CATS})
    rows = len(df)
    day6 = rows * 6 // 7
    valid_end = day6 + (rows - day6) // 2

    dense = np.log1p(df[DENSE].fillna(0).clip(lower=0)).to_numpy(np.float32)
    cats = np.empty((rows, len(CATS)), dtype=np.int32)
    for j, name in enumerate(CATS):
        col = df[name]
        counts = col.iloc[:day6].value_counts()  # NaN (missing) is not counted
        counts = counts[counts >= args.freq_threshold]
        # Ties by ascending 32-bit value: parse only the distinct kept strings.
        order = pd.DataFrame({'count': counts.to_numpy(),
                              'value': [int(v, 16) for v in counts.index]},
                             index=counts.index).sort_values(['count', 'value'],
                                                             ascending=[False, True])
        ids = pd.Series(np.arange(2, 2 + len(order), dtype=np.int32), index=order.index)
        mapped = col.map(ids)
        cats[:, j] = np.where(col.isna(), 0, mapped.fillna(1)).astype(np.int32)
    labels = df['label'].to_numpy(np.uint8)

    os.makedirs(args.out, exist_ok=True)
    for split, (a, b) in {'train': (0, day6), 'valid': (day6, valid_end),
                          'test': (valid_end, rows)}.items():
        labels[a:b].tofile(os.path.join(args.out, f'{split}.label.u8'))
        dense[a:b].tofile(os.path.join(args.out, f'{split}.dense.f32'))
        cats[a:b].tofile(os.path.join(args.out, f'{split}.cat.i32'))
    print(f'pandas etl: {rows} rows in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main()
