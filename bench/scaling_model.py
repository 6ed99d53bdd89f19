#!/usr/bin/python3
"""A cost model of data-parallel `aiok train` (issue 13): step time against the number of
nodes N for a ring all-reduce of the dense gradients and an all-gather of the deduplicated
sparse (id, row) blocks, at given link speeds; and from it, the projected time of one epoch
of Criteo 1TB (4.4B rows) and of its ETL. Every input is a flag, defaulting to what was
measured on this machine (docs/BENCHMARKS.md says where each comes from).

usage: bench/scaling_model.py [--check] [--rows 4.4e9] [--batch 262144] [--dense-bytes 1.904e6]
           [--emb-dim 16] [--per-core 20000] [--cores 64] [--efficiency 0.5] [--alpha 30e-6]
           [--unique "4096:20293,16384:50468,65536:115555,262144:227620"]
           [--etl-per-core 1.67e6] [--disk-gbps 3.0] [--raw-bytes 1.3e12]

Per step, on N nodes of `cores` cores each, global batch B:
  compute    = B / (N * cores * per_core * efficiency)
  all-reduce = 2 (N-1)/N * dense_bytes / link + 2 (N-1) * alpha        (ring)
  all-gather = (N-1)/N * N * unique(B/N) * (8 + 4 emb_dim) / link + (N-1) * alpha
where unique(b) is the number of distinct (field, id) pairs in b rows (measured on the
generator's data, interpolated on log-log; Criteo 1TB's larger vocabularies give more), and
nothing overlaps (the trainer exchanges after the backward pass). --check prints the model
against the two-host measurements of bench/mpi_bench.py --links netns:1gbit,netns:10gbit.
"""
import argparse
import math


def unique_rows(table, b):
    """Distinct (field, id) pairs in b rows, log-log interpolated in the measured table."""
    points = sorted(table)
    if b <= points[0][0]:
        (b0, u0), (b1, u1) = points[0], points[1]
    elif b >= points[-1][0]:
        (b0, u0), (b1, u1) = points[-2], points[-1]
    else:
        (b0, u0), (b1, u1) = next((p, q) for p, q in zip(points, points[1:]) if p[0] <= b <= q[0])
    slope = math.log(u1 / u0) / math.log(b1 / b0)
    return u0 * (b / b0) ** slope


def step_seconds(a, nodes, link_bits):
    link = link_bits / 8.0
    compute = a.batch / (nodes * a.cores * a.per_core * a.efficiency)
    if nodes == 1:
        return compute, 0.0, 0.0
    allreduce = 2 * (nodes - 1) / nodes * a.dense_bytes / link + 2 * (nodes - 1) * a.alpha
    sparse_total = nodes * unique_rows(a.unique, a.batch / nodes) * (8 + 4 * a.emb_dim)
    allgather = (nodes - 1) / nodes * sparse_total / link + (nodes - 1) * a.alpha
    return compute, allreduce, allgather


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--check', action='store_true')
    ap.add_argument('--rows', type=float, default=4.4e9)
    ap.add_argument('--batch', type=float, default=262144)
    ap.add_argument('--dense-bytes', type=float, default=1.904e6)
    ap.add_argument('--emb-dim', type=int, default=16)
    ap.add_argument('--per-core', type=float, default=20000)
    ap.add_argument('--cores', type=int, default=64)
    ap.add_argument('--efficiency', type=float, default=0.5)
    ap.add_argument('--alpha', type=float, default=30e-6)
    ap.add_argument('--unique', default='4096:20293,16384:50468,65536:115555,262144:227620')
    ap.add_argument('--etl-per-core', type=float, default=1.67e6)
    ap.add_argument('--disk-gbps', type=float, default=3.0)
    ap.add_argument('--raw-bytes', type=float, default=1.3e12)
    a = ap.parse_args()
    a.unique = [tuple(float(v) for v in p.split(':')) for p in a.unique.split(',')]

    if a.check:
        # The measured two-host run: global batch 2048, 2 ranks, dlrm-kaggle (emb 16).
        a.batch, sparse_total = 2048, 1.085e6
        print('| link | model all-reduce ms | measured | model all-gather ms | measured |')
        print('|---|---|---|---|---|')
        for name, bits, ar, ag in (('1 Gb/s', 1e9, 16.81, 5.46), ('10 Gb/s', 10e9, 9.04, 2.22)):
            link = bits / 8
            model_ar = 2 * 1 / 2 * a.dense_bytes / link + 2 * a.alpha
            model_ag = 1 / 2 * sparse_total / link + a.alpha
            print(f'| {name} | {1e3 * model_ar:.2f} | {ar:.2f} | {1e3 * model_ag:.2f} | {ag:.2f} |')
        return

    steps = a.rows / a.batch
    print(f'{a.rows:.3g} rows, global batch {a.batch:.0f} ({steps:,.0f} steps), dense '
          f'{a.dense_bytes / 1e6:.2f} MB, emb {a.emb_dim}, {a.cores} cores/node at '
          f'{a.per_core:,.0f} samples/s/core x {a.efficiency}\n')
    print('| nodes | link | compute s | all-reduce s | all-gather s | epoch | comm share |')
    print('|---|---|---|---|---|---|---|')
    for nodes in (1, 4, 16, 64):
        for gbps in ((10, 25, 100) if nodes > 1 else (0,)):
            c, r, g = step_seconds(a, nodes, gbps * 1e9)
            total = steps * (c + r + g)
            print(f'| {nodes} | {f"{gbps} Gb/s" if nodes > 1 else "-"} | {steps * c:,.0f} | '
                  f'{steps * r:,.0f} | {steps * g:,.0f} | {total / 60:,.1f} min | '
                  f'{(r + g) / (c + r + g):.0%} |')
    print('\nETL (compute bound, or reading the raw text from local disks, whichever is longer):\n')
    print('| nodes | compute s | disk s | ETL |')
    print('|---|---|---|---|')
    for nodes in (1, 4, 16, 64):
        compute = a.rows / (nodes * a.cores * a.etl_per_core * a.efficiency)
        disk = a.raw_bytes / (nodes * a.disk_gbps * 1e9)
        print(f'| {nodes} | {compute:,.0f} | {disk:,.0f} | {max(compute, disk) / 60:,.1f} min |')


if __name__ == '__main__':
    main()
