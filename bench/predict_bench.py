#!/usr/bin/python3
"""Benchmark: `aiok predict` against the evaluation loop of the plain PyTorch peer
(bench/peers/dlrm_torch.py --score-only), same rows, same architecture, same threads, same run.

aiok starts from the raw TSV rows — parsing, the bundle's ETL transform and the model — while
the peer scores rows that are already features (the dataset's shards through numpy memmap),
so aiok does strictly more work per row.

usage: bench/predict_bench.py --raw TRAIN_TXT [--threads 2] [--arch kaggle]
           [--work /tmp/aiok_bench_predict]
Builds a dataset and a bundle from TRAIN_TXT (a short training run: speed does not depend on
the weights), then times both sides on every row of the file. Prints Markdown.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AIOK = os.path.join(ROOT, 'build', 'aiok')


def aiok(*args):
    return subprocess.run([AIOK, *args], check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--raw', required=True)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--arch', default='kaggle', choices=['kaggle', 'small', 'tiny'])
    ap.add_argument('--work', default='/tmp/aiok_bench_predict')
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    ds, model, bundle = (os.path.join(args.work, d) for d in ('ds', 'model', 'bundle'))
    threads = ['--threads', str(args.threads)]
    aiok('etl', '--input', args.raw, '--out', ds, '-q', *threads)
    aiok('train', '--data', ds, '--out', model, '--preset', f'dlrm-{args.arch}', '--max-steps',
         '20', '-q', *threads)
    aiok('bundle', '--data', ds, '--model', model, '--out', bundle, '-q')

    peer = subprocess.run([sys.executable, os.path.join(ROOT, 'bench', 'peers', 'dlrm_torch.py'),
                           '--data', ds, '--threads', str(args.threads), '--arch', args.arch,
                           '--score-only'], check=True, capture_output=True, text=True)
    peer_result = json.loads(peer.stdout.strip().splitlines()[-1])
    peer_rate = peer_result['rows_per_second']

    rows = {}
    for precision in ('fp32', 'bf16'):
        start = time.perf_counter()
        out = aiok('predict', '--model', bundle, '--input', args.raw, '--out',
                   os.path.join(args.work, f'p_{precision}.txt'), '--precision', precision,
                   '-q', *threads)
        wall = time.perf_counter() - start
        m = re.search(r'predict: (\d+) rows in .*?\(([\d.]+)([kM]?) rows/s', out)
        n = int(m.group(1))
        rows[precision] = (n, n / wall)
    n = rows['fp32'][0]
    print(f'{time.strftime("%Y-%m-%d")}, {args.threads} threads, dlrm-{args.arch}, {n:,} rows '
          f'({os.path.basename(args.raw)}); aiok rates are whole-command wall time, start-up '
          f'and bundle loading included')
    print()
    print('| scorer | input | rows/s | vs Python |')
    print('|---|---|---|---|')
    print(f'| PyTorch evaluation loop (Python, fp32, batch {peer_result["batch_size"]}) | '
          f'features (memmap) | {peer_rate:,.0f} | 1.00x |')
    for precision in ('fp32', 'bf16'):
        rate = rows[precision][1]
        print(f'| aiok predict, {precision} | raw TSV | {rate:,.0f} | {rate / peer_rate:.2f}x |')


if __name__ == '__main__':
    main()
