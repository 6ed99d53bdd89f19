#!/usr/bin/python3
"""Benchmark (issue 11): a feature pipeline with target_encode, count_encode, hashed_cross and
bucketize on `aiok datagen criteo` data, in aiok, pandas (bench/peers/etl_ops_pandas.py) and
Polars (nodejs-polars, bench/peers/etl_ops_polars.js), same input, same machine, same run.
Checks that the three outputs agree (ids exactly, dense values within 1e-6 relative) and
reports wall time, peak RSS and the ratios, as Markdown for docs/BENCHMARKS.md, with the load
average before and after (the machine is shared).

The pipeline (PIPELINE below): the criteo preset's chains (I fill 0, clip at 0, log1p;
C categorify with threshold 3), quantile (16) and fixed buckets of one column each, two hashed
crosses, and count and out-of-fold target encoding (5 folds, smoothing 20) of the 8 largest
columns — the criteo-full preset's choice. The issue also asks for a `join` with a generated
side table: it goes in as a `prepare: - join` step in PIPELINE, a side table written next to
the input, and one merge (pandas) / join (Polars) in each peer, whose steps are one function
each.

Polars comes from `scripts/setup.sh --bench` (third_party/bench-node); without it the Polars
column is skipped with a note.

usage: bench/etl_ops_bench.py [--rows 2000000] [--threads 2] [--work DIR] [--input FILE]
                              [--no-polars] [--no-pandas]
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
PIPELINE = """steps:
  - columns: [I1..I13]
    ops: [fill_missing: {value: 0}, clip: {min: 0}, log1p]
  - columns: [C1..C26]
    ops: [categorify: {freq_threshold: 3}]
  - {inputs: [I5], output: I5.q16, ops: [bucketize: {quantiles: 16}]}
  - {inputs: [I2], output: I2.fixed, ops: [bucketize: {boundaries: "0,1,2,4,8,16,32,64,128,256,512,1024"}]}
  - {inputs: [C1, C2], output: C1_x_C2, ops: [hashed_cross: {buckets: 200000}]}
  - {inputs: [C5, C14], output: C5_x_C14, ops: [hashed_cross: {buckets: 20000}]}
""" + ''.join(f'  - {{inputs: [{c}], output: {c}.count, ops: [count_encode]}}\n' for c in LARGE) + \
    ''.join(f'  - {{inputs: [{c}], output: {c}.te, ops: [target_encode: {{folds: 5, '
            f'smoothing: 20, seed: 0}}]}}\n' for c in LARGE)


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
    ap.add_argument('--no-polars', action='store_true')
    ap.add_argument('--no-pandas', action='store_true')
    args = ap.parse_args()
    aiok = os.path.join(ROOT, 'build', 'aiok')
    os.makedirs(args.work, exist_ok=True)
    data = args.input
    if data is None:
        raw = os.path.join(args.work, 'raw')
        subprocess.run([aiok, 'datagen', 'criteo', '--rows', str(args.rows), '-q', '--out', raw],
                       check=True)
        data = os.path.join(raw, 'train.txt')
    pipeline = os.path.join(args.work, 'pipeline.yaml')
    with open(pipeline, 'w') as f:
        f.write(PIPELINE)
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
             '--input', data, '--out', out])))
        peers.append(('pandas', out))
    polars_ready = os.path.isdir(os.path.join(POLARS_DIR, 'node_modules', 'nodejs-polars'))
    if not args.no_polars and polars_ready:
        out = os.path.join(args.work, 'polars')
        results.append(('Polars (nodejs-polars 0.26.1)', f'{os.cpu_count()} threads', *run(
            ['node', os.path.join(ROOT, 'bench', 'peers', 'etl_ops_polars.js'), '--input', data,
             '--out', out], cwd=POLARS_DIR)))
        peers.append(('polars', out))
    elif not args.no_polars:
        print(f'note: no Polars in {POLARS_DIR}: run scripts/setup.sh --bench')
    load_after = load_average()

    aiok_s = results[0][2]
    print(f'machine: {cpu_model()}, {os.cpu_count()} cores; {time.strftime("%Y-%m-%d %H:%M")}; '
          f'load average {load_before} before, {load_after} after')
    print(f'input: {data} ({rows} rows, {size_mb:.0f} MB); pipeline: {pipeline}')
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
