#!/usr/bin/python3
"""Benchmark: `aiok datagen criteo` against the numpy/pandas peer generator, same rows, same
machine, same run. Reports MB/s of each and the ratio, as a Markdown table for
docs/BENCHMARKS.md.

usage: bench/datagen_bench.py [--rows 2000000] [--threads 2] [--repeats 3] [--work DIR]
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def check_layout(path, lines=1000):
    """The peer must write the same layout, or the comparison is not fair."""
    with open(path) as f:
        for i, line in enumerate(f):
            if i == lines:
                break
            fields = line.rstrip('\n').split('\t')
            assert len(fields) == 40, f'{path}:{i + 1}: {len(fields)} fields'
            assert all(len(c) in (0, 8) for c in fields[14:]), f'{path}:{i + 1}: bad hex field'


def cpu_model():
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rows', type=int, default=2_000_000)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--work', default='/tmp/aiok_bench_datagen')
    args = ap.parse_args()
    aiok = os.path.join(ROOT, 'build', 'aiok')
    peer = os.path.join(ROOT, 'bench', 'peers', 'datagen_criteo_numpy.py')
    aiok_dir, peer_dir = os.path.join(args.work, 'aiok'), os.path.join(args.work, 'numpy')
    shutil.rmtree(args.work, ignore_errors=True)

    aiok_times = [timed([aiok, 'datagen', 'criteo', '--rows', str(args.rows), '--threads',
                         str(args.threads), '-q', '--out', aiok_dir])
                  for _ in range(args.repeats)]
    aiok_bytes = os.path.getsize(os.path.join(aiok_dir, 'train.txt'))
    # The peer is single-threaded numpy/pandas, as such a script runs; one run (it is slow).
    peer_time = timed([sys.executable, peer, '--rows', str(args.rows), '--out', peer_dir])
    peer_bytes = os.path.getsize(os.path.join(peer_dir, 'train.txt'))
    check_layout(os.path.join(aiok_dir, 'train.txt'))
    check_layout(os.path.join(peer_dir, 'train.txt'))

    aiok_s = statistics.median(aiok_times)
    aiok_mbs, peer_mbs = aiok_bytes / 1e6 / aiok_s, peer_bytes / 1e6 / peer_time
    print(f'machine: {cpu_model()}, {os.cpu_count()} cores; {time.strftime("%Y-%m-%d")}')
    print(f'command: bench/datagen_bench.py --rows {args.rows} --threads {args.threads} '
          f'--repeats {args.repeats}')
    print()
    print('| generator | rows | MB written | seconds | MB/s | vs peer |')
    print('|---|---|---|---|---|---|')
    print(f'| aiok datagen criteo ({args.threads} threads, median of {args.repeats}) | '
          f'{args.rows} | {aiok_bytes / 1e6:.1f} | {aiok_s:.2f} | {aiok_mbs:.0f} | '
          f'{aiok_mbs / peer_mbs:.1f}x |')
    print(f'| numpy/pandas peer (1 run) | {args.rows} | {peer_bytes / 1e6:.1f} | '
          f'{peer_time:.2f} | {peer_mbs:.1f} | 1.0x |')
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == '__main__':
    main()
