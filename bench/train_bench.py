#!/usr/bin/python3
"""Benchmark: `aiok train` against a plain PyTorch DLRM loop in Python
(bench/peers/dlrm_torch.py), same dataset directory, same architecture, same batch size and
threads, same run. Reports training samples/s and the ratios, as Markdown.

usage: bench/train_bench.py --data DATASET_DIR [--steps 300] [--batch-size 2048] [--threads 2]
                            [--arch kaggle]
Both sides use SGD (lr 0.1) on MLPs and embeddings, so they do the same work per step.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def aiok_run(args, precision, out):
    cmd = [os.path.join(ROOT, 'build', 'aiok'), 'train', '--data', args.data, '--out', out,
           '--preset', f'dlrm-{args.arch}', '--batch-size', str(args.batch_size),
           '--optimizer', 'sgd', '--lr', '0.1', '--embedding-update', 'sgd',
           '--embedding-lr', '0.1', '--max-steps', str(args.steps), '--threads',
           str(args.threads), '--precision', precision, '-q']
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    metrics = json.load(open(os.path.join(out, 'metrics.json')))
    return metrics['train']['samples_per_second'], metrics['test']['auc'], metrics


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--batch-size', type=int, default=2048)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--arch', default='kaggle', choices=['kaggle', 'small', 'tiny'])
    ap.add_argument('--work', default='/tmp/aiok_bench_train')
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    peer = subprocess.run([sys.executable, os.path.join(ROOT, 'bench', 'peers', 'dlrm_torch.py'),
                           '--data', args.data, '--batch-size', str(args.batch_size),
                           '--threads', str(args.threads), '--max-steps', str(args.steps),
                           '--arch', args.arch],
                          check=True, capture_output=True, text=True)
    peer_rate = json.loads(peer.stdout.strip().splitlines()[-1])['samples_per_second']
    fp32_rate, fp32_auc, metrics = aiok_run(args, 'fp32', os.path.join(args.work, 'fp32'))
    bf16_rate, bf16_auc, _ = aiok_run(args, 'bf16', os.path.join(args.work, 'bf16'))
    print(f'{time.strftime("%Y-%m-%d")}, {args.threads} threads, batch {args.batch_size}, '
          f'dlrm-{args.arch}, {args.steps} SGD steps; CPU native bf16: '
          f'{metrics["cpu_native_bf16"]}')
    print()
    print('| trainer | samples/s | vs Python fp32 | test AUC after the steps |')
    print('|---|---|---|---|')
    print(f'| plain PyTorch loop (Python, fp32) | {peer_rate:,.0f} | 1.00x | - |')
    print(f'| aiok train, fp32 | {fp32_rate:,.0f} | {fp32_rate / peer_rate:.2f}x | {fp32_auc:.4f} |')
    print(f'| aiok train, bf16 | {bf16_rate:,.0f} | {bf16_rate / peer_rate:.2f}x | {bf16_auc:.4f} |')


if __name__ == '__main__':
    main()
