#!/usr/bin/python3
"""Benchmark: data-parallel `aiok train` on 1 rank against N ranks under mpirun, same dataset,
model, global batch and steps. Reports, as Markdown, training samples/s (global rows per
second of training-step time, evaluation excluded), the exchange's time per step and the
bytes it moves per step (from metrics.json: train.communication), and the end's test AUC.

usage: bench/mpi_bench.py --data DATASET_DIR [--model dlrm|wnd] [--preset P] [--ranks 2]
                          [--steps 300] [--batch-size 2048] [--threads 2] [--repeat 2]
                          [--precision auto|fp32|bf16] [--optimizer adagrad]

Three configurations: one process with --threads threads, one process with --threads / N
(what each rank gets), and N ranks of --threads / N threads (the same cores in total). Runs
alternate between them so that a changing machine load hits all alike; the median of
--repeat runs is reported, with the load average at the start.

The exchange's time includes waiting for the slower rank, mostly inside the all-reduce (the
first collective of a step). bytes/step counts payloads: the all-reduced dense gradient buffer (each rank contributes it
once; a ring all-reduce sends about 2 (N-1)/N times it per rank) plus every rank's sparse
(ids, rows) blocks together (what each rank receives, its own block included).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.abspath(__file__)) + '/..'
MPIRUN = ['mpirun', '--allow-run-as-root', '--oversubscribe', '--bind-to', 'none',
          '--mca', 'btl', 'self,vader,tcp', '--mca', 'btl_tcp_if_include', 'lo',
          '--mca', 'oob_tcp_if_include', 'lo']


def run(args, ranks, threads, out):
    cmd = [os.path.join(ROOT, 'build', 'aiok'), 'train', '--data', args.data, '--out', out,
           '--model', args.model, '--batch-size', str(args.batch_size),
           '--max-steps', str(args.steps), '--threads', str(threads),
           '--precision', args.precision, '--optimizer', args.optimizer, '-q']
    if args.preset:
        cmd += ['--preset', args.preset]
    if ranks > 1:
        cmd = MPIRUN + ['-np', str(ranks)] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    metrics = json.load(open(os.path.join(out, 'metrics.json')))
    train = metrics['train']
    return {'samples_per_second': train['samples_per_second'],
            'seconds_per_step': train['communication']['seconds_per_step'],
            'allreduce_seconds': train['communication']['dense_allreduce_seconds_per_step'],
            'allgather_seconds': train['communication']['sparse_allgather_seconds_per_step'],
            'bytes_per_step': train['communication']['bytes_per_step'],
            'dense_bytes_per_step': train['communication']['dense_bytes_per_step'],
            'sparse_bytes_per_step': train['communication']['sparse_bytes_per_step'],
            'step_seconds': train['wall_seconds'] / max(train['steps'], 1),
            'test_auc': metrics['test'].get('auc', float('nan')),
            'precision': metrics['precision'], 'threads': threads}


def median(results, key):
    return statistics.median(r[key] for r in results)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--model', default='dlrm', choices=['dlrm', 'wnd', 'dien'])
    ap.add_argument('--preset')
    ap.add_argument('--ranks', type=int, default=2)
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--batch-size', type=int, default=2048)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeat', type=int, default=2)
    ap.add_argument('--precision', default='auto')
    ap.add_argument('--optimizer', default='adagrad')
    args = ap.parse_args()
    load = os.getloadavg()[0]
    per_rank = max(1, args.threads // args.ranks)
    configs = [(1, args.threads), (1, per_rank), (args.ranks, per_rank)]
    configs = list(dict.fromkeys(configs))  # one process of per_rank threads may be the first
    results = {config: [] for config in configs}
    with tempfile.TemporaryDirectory(prefix='aiok_mpi_bench_') as tmp:
        for i in range(args.repeat):
            for ranks, threads in configs:
                out = os.path.join(tmp, f'r{ranks}_t{threads}_{i}')
                results[(ranks, threads)].append(run(args, ranks, threads, out))
    end_load = os.getloadavg()[0]
    one = median(results[configs[0]], 'samples_per_second')
    print(f'model {args.model} {args.preset or "(default preset)"}, global batch '
          f'{args.batch_size}, {args.steps} steps, {args.threads} threads in total, precision '
          f'{results[configs[0]][0]["precision"]}, median of {args.repeat}; load average at start '
          f'{load:.2f}, at end {end_load:.2f}, on {os.cpu_count()} cores\n')
    print(f'| ranks x threads | samples/s | vs 1 x {args.threads} | step ms | exchange ms/step '
          '(all-reduce + all-gather) | '
          'bytes/step (dense + sparse) | test AUC |')
    print('|---|---|---|---|---|---|---|')
    for ranks, threads in configs:
        r = results[(ranks, threads)]
        sps = median(r, 'samples_per_second')
        print(f'| {ranks} x {r[0]["threads"]} | {sps:,.0f} | {sps / one:.2f}x | '
              f'{1e3 * median(r, "step_seconds"):.1f} | {1e3 * median(r, "seconds_per_step"):.2f} '
              f'({1e3 * median(r, "allreduce_seconds"):.2f} + '
              f'{1e3 * median(r, "allgather_seconds"):.2f}) | '
              f'{median(r, "bytes_per_step") / 1e6:.2f} MB ({median(r, "dense_bytes_per_step") / 1e6:.2f}'
              f' + {median(r, "sparse_bytes_per_step") / 1e6:.2f}) | {median(r, "test_auc"):.4f} |')


if __name__ == '__main__':
    main()
