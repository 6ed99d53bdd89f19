#!/usr/bin/python3
"""Benchmark (issue 11): a feature pipeline with target_encode, count_encode, hashed_cross,
bucketize and a join on `aiok datagen criteo` data, in aiok, pandas
(bench/peers/etl_ops_pandas.py) and Polars (nodejs-polars, bench/peers/etl_ops_polars.js),
same input, same machine, same run. Checks that the three outputs agree (ids exactly, dense
values within 1e-6 relative) and reports wall time, peak RSS and the ratios, as Markdown for
docs/BENCHMARKS.md, with the load average before and after (the machine is shared).

The pipeline (pipeline_text below): a left join (aiok's `prepare: - join`) with a generated
side table keyed by C11 — a dimension table of the input's C11 values (90% of them, each with
a price and a brand; 5% of prices and 3% of brands missing) plus 10% more keys the input never
has; then the criteo preset's chains (I fill 0, clip at 0, log1p; C categorify with threshold
3), the side table's price (fill 0, log1p) and brand (categorify, threshold 3), quantile (16)
and fixed buckets of one column each, two hashed crosses, and count and out-of-fold target
encoding (5 folds, smoothing 20) of the 8 largest columns — the criteo-full preset's choice.
--no-join leaves the join and the side table's columns out.

Polars comes from `scripts/setup.sh --bench` (third_party/bench-node); without it the Polars
column is skipped with a note.

usage: bench/etl_ops_bench.py [--rows 2000000] [--threads 2] [--work DIR] [--input FILE]
                              [--no-join] [--no-polars] [--no-pandas]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLARS_DIR = os.path.join(ROOT, 'third_party', 'bench-node')
LARGE = ['C3', 'C4', 'C10', 'C12', 'C16', 'C21', 'C24', 'C26']
SIDE_KEY = 'C11'  # the side table's key: about 5.7k distinct values in the default data


def pipeline_text(join):
    """The benchmark's pipeline; with `join`, a prepare join with side.tsv (beside it)."""
    text = ''
    if join:
        text += f'prepare:\n  - join: {{table: side.tsv, on: [{SIDE_KEY}]}}\n'
    text += """steps:
  - columns: [I1..I13]
    ops: [fill_missing: {value: 0}, clip: {min: 0}, log1p]
  - columns: [C1..C26]
    ops: [categorify: {freq_threshold: 3}]
"""
    if join:
        text += """  - columns: [side_price]
    ops: [fill_missing: {value: 0}, log1p]
  - columns: [side_brand]
    ops: [categorify: {freq_threshold: 3}]
"""
    text += """  - {inputs: [I5], output: I5.q16, ops: [bucketize: {quantiles: 16}]}
  - {inputs: [I2], output: I2.fixed, ops: [bucketize: {boundaries: "0,1,2,4,8,16,32,64,128,256,512,1024"}]}
  - {inputs: [C1, C2], output: C1_x_C2, ops: [hashed_cross: {buckets: 200000}]}
  - {inputs: [C5, C14], output: C5_x_C14, ops: [hashed_cross: {buckets: 20000}]}
"""
    text += ''.join(f'  - {{inputs: [{c}], output: {c}.count, ops: [count_encode]}}\n'
                    for c in LARGE)
    text += ''.join(f'  - {{inputs: [{c}], output: {c}.te, ops: [target_encode: {{folds: 5, '
                    f'smoothing: 20, seed: 0}}]}}\n' for c in LARGE)
    return text


def write_side_table(data, path, seed=11):
    """A dimension table keyed by SIDE_KEY (see the docstring); returns its row count."""
    import pandas as pd
    column = 1 + 13 + int(SIDE_KEY[1:]) - 1  # label, I1..I13, then C1..
    keys = pd.read_csv(data, sep='\t', header=None, usecols=[column], dtype=str)[column]
    keys = np.array(sorted(keys.dropna().unique()))
    rng = np.random.default_rng(seed)
    kept = keys[rng.random(len(keys)) < 0.9]
    extra = np.array([f'{v:08x}' for v in rng.integers(0, 2**32, len(keys) // 10)])
    extra = np.setdiff1d(extra, keys)  # keys the input never has
    keys = np.concatenate([kept, extra])
    rng.shuffle(keys)
    n = len(keys)
    price = np.round(rng.lognormal(3, 1, n), 2).astype(object)
    price[rng.random(n) < 0.05] = ''
    brands = np.array([f'{v:08x}' for v in rng.integers(0, 2**32, 400)])
    brand = brands[rng.integers(0, len(brands), n)].astype(object)
    brand[rng.random(n) < 0.03] = ''
    with open(path, 'w') as f:
        f.write(f'{SIDE_KEY}\tside_price\tside_brand\n')
        for key, p, b in zip(keys, price, brand):
            f.write(f'{key}\t{p}\t{b}\n')
    return n


def run(cmd, cwd=None):
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f'failed ({status}): {" ".join(cmd)}')
    return seconds, usage.ru_maxrss / 1024.0


def read_aiok_split(ds, split):
    schema = json.load(open(os.path.join(ds, 'schema.json')))
    shards = schema['splits'][split]['shards']
    cat = lambda key, dtype: np.concatenate(
        [np.fromfile(os.path.join(ds, s[key]), dtype) for s in shards])
    return cat('label', np.uint8), cat('dense', np.float32), cat('categorical', np.int32)


def compare(ds, peer, name):
    """Raises AssertionError naming the split, block and worst difference."""
    schema = json.load(open(os.path.join(ds, 'schema.json')))
    width = len(schema['features']['dense'])
    for split in ('train', 'valid', 'test'):
        label, dense, cats = read_aiok_split(ds, split)
        p_label = np.fromfile(os.path.join(peer, f'{split}.label.u8'), np.uint8)
        p_dense = np.fromfile(os.path.join(peer, f'{split}.dense.f32'), np.float32)
        p_cats = np.fromfile(os.path.join(peer, f'{split}.cat.i32'), np.int32)
        assert np.array_equal(label, p_label), f'{name} {split}: labels differ'
        assert cats.shape == p_cats.shape, f'{name} {split}: {p_cats.size} ids, aiok {cats.size}'
        differ = np.flatnonzero(cats != p_cats)
        assert differ.size == 0, (f'{name} {split}: {differ.size} ids differ, first at row '
                                  f'{differ[0] // (cats.size // len(label))}')
        assert dense.shape == p_dense.shape, f'{name} {split}: dense shapes differ'
        scale = np.maximum(np.abs(dense.astype(np.float64)), 1e-3)
        relative = np.abs(dense.astype(np.float64) - p_dense) / scale
        worst = float(relative.max()) if relative.size else 0.0
        where = int(relative.argmax()) if relative.size else 0
        assert worst <= 1e-6, (f'{name} {split}: dense column {where % width} differs by '
                               f'{worst:g} relative at row {where // width}')
        print(f'  {name} {split}: {len(label)} rows equal to aiok (ids exact, dense max '
              f'relative diff {worst:.2g})')


def load_average():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def cpu_model():
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return '?'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rows', type=int, default=2_000_000)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--work', default='/tmp/aiok_bench_etl_ops')
    ap.add_argument('--input')
    ap.add_argument('--no-join', action='store_true')
    ap.add_argument('--no-polars', action='store_true')
    ap.add_argument('--no-pandas', action='store_true')
    args = ap.parse_args()
    aiok = os.path.join(ROOT, 'build', 'aiok')
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    # Absolute: the Polars peer runs in third_party/bench-node.
    data = os.path.abspath(args.input) if args.input else None
    if data is None:
        raw = os.path.join(args.work, 'raw')
        subprocess.run([aiok, 'datagen', 'criteo', '--rows', str(args.rows), '-q', '--out', raw],
                       check=True)
        data = os.path.join(raw, 'train.txt')
    join = not args.no_join
    pipeline = os.path.join(args.work, 'pipeline.yaml')
    with open(pipeline, 'w') as f:
        f.write(pipeline_text(join))
    side = os.path.join(args.work, 'side.tsv')
    side_args = ['--side', side] if join else []
    side_rows = write_side_table(data, side) if join else 0
    subprocess.run(['cat', data], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    size_mb = os.path.getsize(data) / 1e6
    load_before = load_average()

    ds = os.path.join(args.work, 'dataset')
    results = [('aiok etl', f'{args.threads} threads', *run(
        [aiok, 'etl', '--pipeline', pipeline, '--input', data, '--out', ds, '--threads',
         str(args.threads), '-q']))]
    rows = sum(json.load(open(os.path.join(ds, 'schema.json')))['splits'][s]['rows']
               for s in ('train', 'valid', 'test'))
    peers = []
    if not args.no_pandas:
        out = os.path.join(args.work, 'pandas')
        results.append(('pandas', '1 thread', *run(
            [sys.executable, os.path.join(ROOT, 'bench', 'peers', 'etl_ops_pandas.py'),
             '--input', data, '--out', out] + side_args)))
        peers.append(('pandas', out))
    polars_ready = os.path.isdir(os.path.join(POLARS_DIR, 'node_modules', 'nodejs-polars'))
    if not args.no_polars and polars_ready:
        out = os.path.join(args.work, 'polars')
        results.append(('Polars (nodejs-polars 0.26.1)', f'{os.cpu_count()} threads', *run(
            ['node', os.path.join(ROOT, 'bench', 'peers', 'etl_ops_polars.js'), '--input', data,
             '--out', out] + side_args, cwd=POLARS_DIR)))
        peers.append(('polars', out))
    elif not args.no_polars:
        print(f'note: no Polars in {POLARS_DIR}: run scripts/setup.sh --bench')
    load_after = load_average()

    aiok_s = results[0][2]
    print(f'machine: {cpu_model()}, {os.cpu_count()} cores; {time.strftime("%Y-%m-%d %H:%M")}; '
          f'load average {load_before} before, {load_after} after')
    print(f'input: {data} ({rows} rows, {size_mb:.0f} MB); pipeline: {pipeline}' +
          (f'; side table {side} ({side_rows} rows, left join on {SIDE_KEY})' if join else
           '; no join'))
    print()
    print('| tool | threads | seconds | rows/s | peak RSS | time vs aiok |')
    print('|---|---|---|---|---|---|')
    for name, threads, seconds, rss in results:
        print(f'| {name} | {threads} | {seconds:.2f} | {rows / seconds / 1e6:.2f}M | '
              f'{rss:.0f} MB | {seconds / aiok_s:.1f}x |')
    print()
    print('output check:')
    for name, out in peers:
        compare(ds, out, name)
        shutil.rmtree(out, ignore_errors=True)


if __name__ == '__main__':
    main()
