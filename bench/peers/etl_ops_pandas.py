#!/usr/bin/python3
"""Peer for bench/etl_ops_bench.py: its pipeline (pipeline_text there) in pandas and
numpy, as a data scientist would write it (one process, vectorized where pandas allows).

  --side TABLE     a left merge with the side table on C11 (one row per key) first, which
                   adds side_price (fillna(0) -> log1p) and side_brand (ids like C1..C26)
  I1..I13          fillna(0) -> clip(lower=0) -> log1p
  C1..C26          ids by train frequency: 0 missing, 1 rare (< 3) or unseen, 2.. by
                   descending count, ties by ascending value
  I5.q16           16 quantile buckets of the train values (the value after each inverted-CDF
                   quantile; equal boundaries merge), 0 missing
  I2.fixed         buckets at 0,1,2,4,...,1024
  C1_x_C2, C5_x_C14  aiok's hashed_cross: SplitMix64 over the values, mod buckets, plus 1
  LARGE.count      the value's train rows (0 unseen or missing)
  LARGE.te         mean train label of the value smoothed toward the prior (weight 20); train
                   rows out of fold: 5 folds by aiok's hash of the row number, each row from
                   the other folds (their mean as the prior); missing is a value
  splits           Kaggle days by row (days 0-5 train, day 6 halves valid/test)

Writes OUT/<split>.label.u8, OUT/<split>.dense.f32 (rows x 29, 30 with the join),
OUT/<split>.cat.i32 (rows x 30, 31 with the join): the row-major blocks of an aiok shard, so
the benchmark compares them exactly.

usage: etl_ops_pandas.py --input train.txt --out DIR [--side side.tsv]
"""
import argparse
import os

import numpy as np
import pandas as pd

DENSE = [f'I{i}' for i in range(1, 14)]
CATS = [f'C{i}' for i in range(1, 27)]
LARGE = ['C3', 'C4', 'C10', 'C12', 'C16', 'C21', 'C24', 'C26']
CROSSES = [(('C1', 'C2'), 200000), (('C5', 'C14'), 20000)]
SIDE_KEY = 'C11'
FIXED = np.array([0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], dtype=np.float64)
QUANTILES, FOLDS, SMOOTHING, SEED, THRESHOLD = 16, 5, 20.0, 0, 3
U = np.uint64


def mix64(x):
    with np.errstate(over='ignore'):
        x = x + U(0x9E3779B97F4A7C15)
        x = (x ^ (x >> U(30))) * U(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> U(27))) * U(0x94D049BB133111EB)
        return x ^ (x >> U(31))


def folds_of(rows):
    with np.errstate(over='ignore'):
        records = np.arange(rows, dtype=np.uint64)
        seed = mix64(np.array([SEED], dtype=np.uint64))[0]
        return (mix64(seed ^ (records * U(0xD6E8FEB86659FD93))) % U(FOLDS)).astype(np.int64)


def keys(col):
    """aiok's 64-bit keys of a hex column: the value; missing -1 (parsed per distinct value)."""
    distinct = col.dropna().unique()
    parsed = pd.Series(np.array([int(v, 16) for v in distinct], dtype=np.uint64), index=distinct)
    return col.map(parsed).fillna(-1).astype(np.int64).to_numpy().view(np.uint64)


def categorify(col, train_rows):
    counts = col.iloc[:train_rows].value_counts()
    counts = counts[counts >= THRESHOLD]
    order = pd.DataFrame({'count': counts.to_numpy(),
                          'value': [int(v, 16) for v in counts.index]},
                         index=counts.index).sort_values(['count', 'value'],
                                                         ascending=[False, True])
    ids = pd.Series(np.arange(2, 2 + len(order), dtype=np.int32), index=order.index)
    return np.where(col.isna(), 0, col.map(ids).fillna(1)).astype(np.int32)


def quantile_boundaries(train):
    counts = pd.Series(train).dropna().value_counts().sort_index()
    values, cum = counts.index.to_numpy(), counts.to_numpy().cumsum()
    total = cum[-1]
    boundaries = []
    for k in range(1, QUANTILES):
        i = int(np.argmax(cum * QUANTILES >= k * total))
        if i + 1 < len(values) and (not boundaries or values[i + 1] > boundaries[-1]):
            boundaries.append(values[i + 1])
    return np.array(boundaries)


def bucketize(values, boundaries):
    return np.where(np.isnan(values), 0,
                    1 + np.searchsorted(boundaries, values, side='right')).astype(np.int32)


def hashed_cross(columns, buckets):
    h = np.full(len(columns[0]), 0x5BD1E9955BD1E995, dtype=np.uint64)
    any_present = np.zeros(len(columns[0]), dtype=bool)
    for k in columns:
        any_present |= k != U(0xFFFFFFFFFFFFFFFF)
        h = mix64(h ^ k)
    return np.where(any_present, 1 + (h % U(buckets)).astype(np.int64), 0).astype(np.int32)


def count_encode(col, train_rows):
    counts = col.iloc[:train_rows].value_counts()
    return col.map(counts).fillna(0).to_numpy(np.float64)


def target_encode(col, labels, train_rows, folds):
    key = col.fillna('')  # missing is a value of its own
    train = pd.DataFrame({'k': key.iloc[:train_rows].to_numpy(), 'f': folds,
                          'y': labels[:train_rows]})
    per_fold = train.groupby(['k', 'f'], sort=False)['y'].agg(['sum', 'count'])
    per_key = per_fold.groupby(level=0).sum()
    fold_sum = np.bincount(folds, weights=labels[:train_rows], minlength=FOLDS)
    fold_count = np.bincount(folds, minlength=FOLDS)
    total_sum, total_count = fold_sum.sum(), fold_count.sum()
    prior = total_sum / total_count
    own = per_fold.reindex(pd.MultiIndex.from_arrays([train['k'], train['f']]))
    whole = per_key.reindex(train['k'])
    other_sum = whole['sum'].to_numpy() - own['sum'].to_numpy()
    other_count = whole['count'].to_numpy() - own['count'].to_numpy()
    fold_prior = (total_sum - fold_sum[folds]) / (total_count - fold_count[folds])
    out = np.empty(len(col))
    out[:train_rows] = (other_sum + fold_prior * SMOOTHING) / (other_count + SMOOTHING)
    rest = per_key.reindex(key.iloc[train_rows:])
    out[train_rows:] = ((rest['sum'] + prior * SMOOTHING) /
                        (rest['count'] + SMOOTHING)).fillna(prior).to_numpy()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--input', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--side')
    args = ap.parse_args()
    df = pd.read_csv(args.input, sep='\t', header=None, names=['label'] + DENSE + CATS,
                     dtype={c: str for c in CATS})
    if args.side:
        side = pd.read_csv(args.side, sep='\t', dtype={SIDE_KEY: str, 'side_brand': str})
        df = df.merge(side, on=SIDE_KEY, how='left')  # keeps the input's row order
    rows = len(df)
    day6 = rows * 6 // 7
    valid_end = day6 + (rows - day6) // 2
    labels = df['label'].to_numpy(np.float64)

    dense = [np.log1p(df[DENSE].fillna(0).clip(lower=0)).to_numpy(np.float64)]
    cats = [np.stack([categorify(df[c], day6) for c in CATS], axis=1)]
    if args.side:
        dense.append(np.log1p(df['side_price'].fillna(0)).to_numpy(np.float64)[:, None])
        cats.append(categorify(df['side_brand'], day6)[:, None])
    i5 = df['I5'].to_numpy(np.float64)
    cats.append(bucketize(i5, quantile_boundaries(i5[:day6]))[:, None])
    cats.append(bucketize(df['I2'].to_numpy(np.float64), FIXED)[:, None])
    for (a, b), buckets in CROSSES:
        cats.append(hashed_cross([keys(df[a]), keys(df[b])], buckets)[:, None])
    dense.append(np.stack([count_encode(df[c], day6) for c in LARGE], axis=1))
    folds = folds_of(day6)
    dense.append(np.stack([target_encode(df[c], labels, day6, folds) for c in LARGE], axis=1))
    dense = np.concatenate(dense, axis=1).astype(np.float32)
    cats = np.ascontiguousarray(np.concatenate(cats, axis=1))

    os.makedirs(args.out, exist_ok=True)
    for split, (begin, end) in {'train': (0, day6), 'valid': (day6, valid_end),
                                'test': (valid_end, rows)}.items():
        df['label'].iloc[begin:end].to_numpy(np.uint8).tofile(
            os.path.join(args.out, f'{split}.label.u8'))
        dense[begin:end].tofile(os.path.join(args.out, f'{split}.dense.f32'))
        cats[begin:end].tofile(os.path.join(args.out, f'{split}.cat.i32'))


if __name__ == '__main__':
    main()
