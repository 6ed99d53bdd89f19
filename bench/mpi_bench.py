#!/usr/bin/python3
"""Benchmark: data-parallel `aiok train` on 1 rank against N ranks under mpirun, same dataset,
model, global batch and steps. Reports, as Markdown, training samples/s (global rows per
second of training-step time, evaluation excluded), the exchange's time per step and the
bytes it moves per step (from metrics.json: train.communication), and the end's test AUC.

usage: bench/mpi_bench.py --data DATASET_DIR [--model dlrm|wnd] [--preset P] [--ranks 2]
                          [--steps 300] [--batch-size 2048] [--threads 2] [--repeat 2]
                          [--precision auto|fp32|bf16] [--optimizer adagrad]
                          [--links loopback,netns,netns:10gbit,...]

Three configurations: one process with --threads threads, one process with --threads / N
(what each rank gets), and N ranks of --threads / N threads (the same cores in total). Runs
alternate between them so that a changing machine load hits all alike; the median of
--repeat runs is reported, with the load average at the start.

--links runs the N-rank configuration over each link: `loopback` (every rank on this host,
shared memory and TCP on lo), `netns` (two ranks on two hosts: network namespaces joined by a
veth pair, TCP only; scripts/netns_hosts.sh, needs root) and `netns:RATE` (the same link
shaped to RATE per direction, e.g. 10gbit). The netns rows also give the bytes the link
carried per step, measured on the veth.

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
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.abspath(__file__)) + '/..'
MPIRUN = ['mpirun', '--allow-run-as-root', '--oversubscribe', '--bind-to', 'none',
          '--mca', 'btl', 'self,vader,tcp', '--mca', 'btl_tcp_if_include', 'lo',
          '--mca', 'oob_tcp_if_include', 'lo']


HOSTS = os.path.join(ROOT, 'scripts', 'netns_hosts.sh')


@contextmanager
def two_hosts(rate):
    """Two test hosts joined by a veth pair shaped to `rate` (None: unshaped)."""
    tag = f'b{os.getpid() % 100000}'
    try:
        subprocess.run([HOSTS, 'up', tag] + ([rate] if rate else []), check=True)
        yield tag
    finally:
        subprocess.run([HOSTS, 'down', tag])  # not checked: keep the first error


def run(args, ranks, threads, out, link='loopback', tag=None):
    cmd = [os.path.join(ROOT, 'build', 'aiok'), 'train', '--data', args.data, '--out', out,
           '--model', args.model, '--batch-size', str(args.batch_size),
           '--max-steps', str(args.steps), '--threads', str(threads),
           '--precision', args.precision, '--optimizer', args.optimizer, '-q']
    if args.preset:
        cmd += ['--preset', args.preset]
    link_bytes = None
    if ranks > 1 and link == 'loopback':
        cmd = MPIRUN + ['-np', str(ranks)] + cmd
    elif ranks > 1:
        assert ranks == 2, 'two hosts: one rank each'
        mpirun_args = subprocess.run([HOSTS, 'mpirun-args', tag], check=True, text=True,
                                     capture_output=True).stdout.split()
        cmd = [HOSTS, 'run', tag, 'mpirun'] + mpirun_args + ['-np', '2'] + cmd
        link_bytes = int(subprocess.run([HOSTS, 'bytes', tag], check=True, text=True,
                                        capture_output=True).stdout)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    if link_bytes is not None:
        link_bytes = int(subprocess.run([HOSTS, 'bytes', tag], check=True, text=True,
                                        capture_output=True).stdout) - link_bytes
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
            'precision': metrics['precision'], 'threads': threads,
            'link_bytes_per_step': (link_bytes / max(train['steps'], 1)
                                    if link_bytes is not None else float('nan'))}


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
    ap.add_argument('--links', default='loopback',
                    help='comma-separated: loopback, netns, netns:RATE (e.g. netns:10gbit)')
    args = ap.parse_args()
    links = args.links.split(',')
    for link in links:
        if link != 'loopback' and not link.startswith('netns'):
            ap.error(f'unknown link {link!r} (loopback, netns, netns:RATE)')
        if link != 'loopback' and args.ranks != 2:
            ap.error('a netns link has two hosts: --ranks 2')
    load = os.getloadavg()[0]
    per_rank = max(1, args.threads // args.ranks)
    configs = [(1, args.threads, 'loopback'), (1, per_rank, 'loopback')]
    configs += [(args.ranks, per_rank, link) for link in links]
    configs = list(dict.fromkeys(configs))  # one process of per_rank threads may be the first
    results = {config: [] for config in configs}
    with tempfile.TemporaryDirectory(prefix='aiok_mpi_bench_') as tmp:
        for i in range(args.repeat):
            for ranks, threads, link in configs:
                out = os.path.join(tmp, f'r{ranks}_t{threads}_{link.replace(":", "_")}_{i}')
                if link == 'loopback':
                    results[(ranks, threads, link)].append(run(args, ranks, threads, out))
                    continue
                rate = link.split(':', 1)[1] if ':' in link else None
                with two_hosts(rate) as tag:
                    results[(ranks, threads, link)].append(
                        run(args, ranks, threads, out, link, tag))
    end_load = os.getloadavg()[0]
    one = median(results[configs[0]], 'samples_per_second')
    print(f'model {args.model} {args.preset or "(default preset)"}, global batch '
          f'{args.batch_size}, {args.steps} steps, {args.threads} threads in total, precision '
          f'{results[configs[0]][0]["precision"]}, median of {args.repeat}; load average at start '
          f'{load:.2f}, at end {end_load:.2f}, on {os.cpu_count()} cores\n')
    print(f'| ranks x threads | link | samples/s | vs 1 x {args.threads} | step ms | '
          'exchange ms/step (all-reduce + all-gather) | '
          'bytes/step (dense + sparse) | link bytes/step | test AUC |')
    print('|---|---|---|---|---|---|---|---|---|')
    for config in configs:
        ranks, _, link = config
        r = results[config]
        sps = median(r, 'samples_per_second')
        carried = median(r, 'link_bytes_per_step')
        print(f'| {ranks} x {r[0]["threads"]} | {link if ranks > 1 else "-"} | {sps:,.0f} | '
              f'{sps / one:.2f}x | '
              f'{1e3 * median(r, "step_seconds"):.1f} | {1e3 * median(r, "seconds_per_step"):.2f} '
              f'({1e3 * median(r, "allreduce_seconds"):.2f} + '
              f'{1e3 * median(r, "allgather_seconds"):.2f}) | '
              f'{median(r, "bytes_per_step") / 1e6:.2f} MB ({median(r, "dense_bytes_per_step") / 1e6:.2f}'
              f' + {median(r, "sparse_bytes_per_step") / 1e6:.2f}) | '
              f'{"-" if carried != carried else f"{carried / 1e6:.2f} MB"} | '
              f'{median(r, "test_auc"):.4f} |')


if __name__ == '__main__':
    main()
