#!/usr/bin/python3
"""Benchmark: `aiok etl --preset criteo` against the same pipeline in pandas
(bench/peers/etl_criteo_pandas.py), same input, same machine, same run. Checks that the
outputs agree (categorical ids exactly, dense values within 1e-6) and reports wall time,
rows/s and peak RSS of each, and the ratio, as Markdown for docs/BENCHMARKS.md.

usage: bench/etl_bench.py [--rows 2000000] [--threads 2] [--repeats 3] [--work DIR]
       [--input FILE]   (default: generate --rows with aiok datagen criteo)
       [--no-peer]      (aiok only, e.g. for the 45M-row run)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
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


def compare(ds, peer):
    for split in ('train', 'valid', 'test'):
        label, dense, cats = read_aiok_split(ds, split)
        p_label = np.fromfile(os.path.join(peer, f'{split}.label.u8'), np.uint8)
        p_dense = np.fromfile(os.path.join(peer, f'{split}.dense.f32'), np.float32)
        p_cats = np.fromfile(os.path.join(peer, f'{split}.cat.i32'), np.int32)
        assert np.array_equal(label, p_label), f'{split}: labels differ'
        assert np.array_equal(cats, p_cats), f'{split}: {np.sum(cats != p_cats)} ids differ'
        worst = float(np.max(np.abs(dense - p_dense))) if dense.size else 0.0
        assert worst <= 1e-6, f'{split}: dense differs by {worst}'
        print(f'  {split}: {len(label)} rows identical (ids exact, dense max diff {worst:g})')


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
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--work', default='/tmp/aiok_bench_etl')
    ap.add_argument('--input')
    ap.add_argument('--no-peer', action='store_true')
    args = ap.parse_args()
    aiok = os.path.join(ROOT, 'build', 'aiok')
    os.makedirs(args.work, exist_ok=True)
    data = args.input
    if data is None:
        raw = os.path.join(args.work, 'raw')
        subprocess.run([aiok, 'datagen', 'criteo', '--rows', str(args.rows), '-q', '--out', raw],
                       check=True)
        data = os.path.join(raw, 'train.txt')
    # Warm the page cache so both tools read the file from memory.
    subprocess.run(['cat', data], stdout=subprocess.DEVNULL, check=True)
    size_mb = os.path.getsize(data) / 1e6
    ds = os.path.join(args.work, 'dataset')
    aiok_runs = [run([aiok, 'etl', '--preset', 'criteo', '--input', data, '--out', ds,
                      '--threads', str(args.threads), '-q']) for _ in range(args.repeats)]
    rows = sum(json.load(open(os.path.join(ds, 'schema.json')))['splits'][s]['rows']
               for s in ('train', 'valid', 'test'))
    aiok_s = statistics.median(r[0] for r in aiok_runs)
    aiok_rss = max(r[1] for r in aiok_runs)
    print(f'machine: {cpu_model()}, {os.cpu_count()} cores; {time.strftime("%Y-%m-%d")}')
    print(f'input: {data} ({rows} rows, {size_mb:.0f} MB)')
    print()
    print('| tool | seconds | rows/s | peak RSS | vs pandas |')
    print('|---|---|---|---|---|')
    if args.no_peer:
        print(f'| aiok etl --preset criteo ({args.threads} threads, median of {args.repeats}) | '
              f'{aiok_s:.2f} | {rows / aiok_s / 1e6:.2f}M | {aiok_rss:.0f} MB | - |')
        return
    peer_out = os.path.join(args.work, 'pandas')
    peer_s, peer_rss = run([sys.executable, os.path.join(ROOT, 'bench', 'peers',
                                                         'etl_criteo_pandas.py'),
                            '--input', data, '--out', peer_out])
    print(f'| aiok etl --preset criteo ({args.threads} threads, median of {args.repeats}) | '
          f'{aiok_s:.2f} | {rows / aiok_s / 1e6:.2f}M | {aiok_rss:.0f} MB | '
          f'{peer_s / aiok_s:.1f}x |')
    print(f'| pandas (1 thread, 1 run) | {peer_s:.2f} | {rows / peer_s / 1e6:.2f}M | '
          f'{peer_rss:.0f} MB | 1.0x |')
    print()
    print('output check:')
    compare(ds, peer_out)
    shutil.rmtree(peer_out, ignore_errors=True)


if __name__ == '__main__':
    main()
