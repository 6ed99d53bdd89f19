#!/usr/bin/python3
"""Benchmark: `aiok train` against a plain PyTorch loop in Python of the same model
(bench/peers/dlrm_torch.py, bench/peers/wnd_torch.py), same dataset directory, same
architecture, batch size and threads, same run. Reports training samples/s and the ratios, as
Markdown; with --epochs E both sides also train E full epochs and report their test AUC.

usage: bench/train_bench.py --data DATASET_DIR [--model dlrm|wnd] [--arch ARCH] [--steps 300]
                            [--batch-size 2048] [--threads 2] [--epochs E]
Arch: dlrm: kaggle (default), small, tiny; wnd: wnd (default), wnd-small.
Both sides use SGD (lr 0.1) on MLPs and embeddings, so they do the same work per step; W&D's
wide weights take Adagrad (lr 0.05) on both sides, as torch cannot apply FTRL.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__)) + '/..'
MODELS = {
    'dlrm': {'peer': 'dlrm_torch.py', 'archs': ['kaggle', 'small', 'tiny'],
             'preset': lambda arch: f'dlrm-{arch}', 'peer_args': [], 'aiok_args': []},
    'wnd': {'peer': 'wnd_torch.py', 'archs': ['wnd', 'wnd-small'],
            'preset': lambda arch: arch, 'peer_args': ['--wide-lr', '0.05'],
            'aiok_args': ['--wide-update', 'adagrad', '--wide-lr', '0.05']},
    'dien': {'peer': 'dien_torch.py', 'archs': ['dien', 'dien-small'],
             'preset': lambda arch: arch, 'peer_args': [], 'aiok_args': []},
}


def aiok_run(args, precision, out, epochs=0):
    spec = MODELS[args.model]
    cmd = [os.path.join(ROOT, 'build', 'aiok'), 'train', '--data', args.data, '--out', out,
           '--model', args.model, '--preset', spec['preset'](args.arch),
           '--batch-size', str(args.batch_size), '--optimizer', 'sgd', '--lr', '0.1',
           '--embedding-update', 'sgd', '--embedding-lr', '0.1', '--threads', str(args.threads),
           '--precision', precision, '-q'] + spec['aiok_args']
    cmd += ['--epochs', str(epochs)] if epochs else ['--max-steps', str(args.steps)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    metrics = json.load(open(os.path.join(out, 'metrics.json')))
    return metrics['train']['samples_per_second'], metrics['test']['auc'], metrics


def peer_run(args, epochs=0):
    spec = MODELS[args.model]
    cmd = [sys.executable, os.path.join(ROOT, 'bench', 'peers', spec['peer']),
           '--data', args.data, '--batch-size', str(args.batch_size),
           '--threads', str(args.threads), '--arch', args.arch] + spec['peer_args']
    if not epochs:
        cmd += ['--max-steps', str(args.steps)]
    elif args.model == 'dlrm':
        cmd += ['--eval']  # the DLRM peer trains exactly one epoch (main checks --epochs 1)
    else:
        cmd += ['--epochs', str(epochs), '--eval']
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--model', default='dlrm', choices=MODELS)
    ap.add_argument('--arch')
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--batch-size', type=int, default=2048)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--epochs', type=int, default=0)
    ap.add_argument('--work', default='/tmp/aiok_bench_train')
    args = ap.parse_args()
    if args.steps < 100:
        sys.exit('--steps: at least 100 (the peers time 50-step intervals after 20 warm-up steps)')
    if args.model == 'dlrm' and args.epochs > 1:
        sys.exit('--epochs: the DLRM peer trains one epoch, so the comparison takes --epochs 1')
    args.arch = args.arch or MODELS[args.model]['archs'][0]
    if args.arch not in MODELS[args.model]['archs']:
        sys.exit(f'--arch for {args.model}: one of {MODELS[args.model]["archs"]}')
    os.makedirs(args.work, exist_ok=True)
    peer_rate = peer_run(args)['samples_per_second']
    fp32_rate, fp32_auc, metrics = aiok_run(args, 'fp32', os.path.join(args.work, 'fp32'))
    bf16_rate, bf16_auc, _ = aiok_run(args, 'bf16', os.path.join(args.work, 'bf16'))
    preset = MODELS[args.model]['preset'](args.arch)
    print(f'{time.strftime("%Y-%m-%d")}, {args.threads} threads, batch {args.batch_size}, '
          f'{preset}, {args.steps} SGD steps; CPU native bf16: {metrics["cpu_native_bf16"]}')
    print()
    print('| trainer | samples/s | vs Python fp32 | test AUC after the steps |')
    print('|---|---|---|---|')
    print(f'| plain PyTorch loop (Python, fp32) | {peer_rate:,.0f} | 1.00x | - |')
    print(f'| aiok train, fp32 | {fp32_rate:,.0f} | {fp32_rate / peer_rate:.2f}x | {fp32_auc:.4f} |')
    print(f'| aiok train, bf16 | {bf16_rate:,.0f} | {bf16_rate / peer_rate:.2f}x | {bf16_auc:.4f} |')
    if args.epochs:
        peer = peer_run(args, args.epochs)
        _, aiok_auc, m = aiok_run(args, 'fp32', os.path.join(args.work, 'epochs'), args.epochs)
        bayes = m['test'].get('bayes_auc')
        print()
        print(f'{args.epochs} epoch(s), fp32: test AUC peer {peer["test_auc"]:.4f}, '
              f'aiok {aiok_auc:.4f} (difference {aiok_auc - peer["test_auc"]:+.4f}); '
              f'Bayes-optimal {bayes}')


if __name__ == '__main__':
    main()
