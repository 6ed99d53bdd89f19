#!/usr/bin/python3
"""Peer for `aiok train`: a plain PyTorch DLRM training loop in Python, as a user would write
it — torch.nn.EmbeddingBag with sparse gradients, torch.optim.SGD, the same architecture, the
same aiok dataset directory read through numpy memmap, the same threads.

usage: dlrm_torch.py --data DIR [--batch-size 2048] [--lr 0.1] [--threads 2] [--max-steps N]
                     [--arch kaggle|small|tiny] [--eval] [--score-only [--score-batch 16384]]
Prints samples/s (median over 50-step intervals, after a 20-step warm-up) and, with --eval,
the test AUC after the run. --score-only skips training and times the evaluation loop alone
over every split's rows (the peer of `aiok predict`).
"""
import argparse
import json
import os
import time

import numpy as np
import torch

ARCHS = {'kaggle': (16, [512, 256, 64, 16], [512, 256, 1]),
         'small': (16, [128, 64, 16], [128, 64, 1]),
         'tiny': (8, [64, 8], [64, 1])}


def dense_names(schema):
    # Dataset format 2 keeps the fields under "features"; format 1 listed "columns" by role.
    if 'features' in schema:
        return schema['features']['dense']
    return [c['name'] for c in schema['columns'] if c['role'] == 'dense']


def cardinalities(schema):
    if 'features' in schema:
        return [c['cardinality'] for c in schema['features']['categorical']]
    return [c['cardinality'] for c in schema['columns'] if c['role'] == 'categorical']


def load_split(ds, schema, split):
    shards = schema['splits'][split]['shards']
    n_dense, n_cat = len(dense_names(schema)), len(cardinalities(schema))
    label = np.concatenate([np.memmap(os.path.join(ds, s['label']), np.uint8, 'r') for s in shards])
    dense = np.concatenate([np.memmap(os.path.join(ds, s['dense']), np.float32, 'r')
                            .reshape(-1, n_dense) for s in shards])
    cat = np.concatenate([np.memmap(os.path.join(ds, s['categorical']), np.int32, 'r')
                          .reshape(-1, n_cat) for s in shards])
    return label, dense, cat


class Dlrm(torch.nn.Module):
    def __init__(self, cards, dim, bottom, top, n_dense):
        super().__init__()
        self.emb = torch.nn.ModuleList(
            [torch.nn.EmbeddingBag(n, dim, mode='sum', sparse=True) for n in cards])
        for e in self.emb:
            bound = 1 / np.sqrt(e.num_embeddings)
            torch.nn.init.uniform_(e.weight, -bound, bound)
        self.bottom = self.mlp(n_dense, bottom, last_plain=False)
        vectors = len(cards) + 1
        self.top = self.mlp(dim + vectors * (vectors - 1) // 2, top, last_plain=True)
        self.li, self.lj = torch.tril_indices(vectors, vectors, -1)

    @staticmethod
    def mlp(n_in, sizes, last_plain):
        layers = []
        for i, n_out in enumerate(sizes):
            layers.append(torch.nn.Linear(n_in, n_out))
            if not (last_plain and i == len(sizes) - 1):
                layers.append(torch.nn.ReLU())
            n_in = n_out
        return torch.nn.Sequential(*layers)

    def forward(self, dense, cat):
        b = self.bottom(dense)
        offsets = torch.arange(cat.shape[0])
        vectors = [b] + [bag(cat[:, k], offsets) for k, bag in enumerate(self.emb)]
        t = torch.stack(vectors, 1)
        z = torch.bmm(t, t.transpose(1, 2))[:, self.li, self.lj]
        return self.top(torch.cat([b, z], 1)).squeeze(1)


def auc(scores, labels):
    order = np.argsort(scores, kind='mergesort')
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks for ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def score(model, dense, cat, batch):
    """The evaluation loop: probabilities of every row, batch by batch, without gradients."""
    model.eval()
    with torch.no_grad():
        return torch.cat([torch.sigmoid(model(torch.from_numpy(np.array(dense[i:i + batch])),
                                              torch.from_numpy(cat[i:i + batch].astype(np.int64))))
                          for i in range(0, len(dense), batch)]).numpy()


def score_only(args, model, schema):
    rows, seconds = 0, 0.0
    for split in ('train', 'valid', 'test'):
        _, dense, cat = load_split(args.data, schema, split)
        start = time.perf_counter()
        rows += len(score(model, dense, cat, args.score_batch))
        seconds += time.perf_counter() - start
    print(json.dumps({'rows': rows, 'seconds': seconds, 'rows_per_second': rows / seconds,
                      'batch_size': args.score_batch, 'threads': args.threads}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--batch-size', type=int, default=2048)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--max-steps', type=int, default=0)
    ap.add_argument('--arch', default='kaggle', choices=ARCHS)
    ap.add_argument('--eval', action='store_true')
    ap.add_argument('--score-only', action='store_true')
    ap.add_argument('--score-batch', type=int, default=16384)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    schema = json.load(open(os.path.join(args.data, 'schema.json')))
    cards = cardinalities(schema)
    label, dense, cat = load_split(args.data, schema, 'train')
    dim, bottom, top = ARCHS[args.arch]
    model = Dlrm(cards, dim, bottom, top, dense.shape[1])
    if args.score_only:
        return score_only(args, model, schema)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    perm = np.random.RandomState(0).permutation(len(label))
    steps = len(label) // args.batch_size
    if args.max_steps:
        steps = min(steps, args.max_steps)
    interval, rates, start, train_seconds = 50, [], None, 0.0
    t_run = time.perf_counter()
    for step in range(steps):
        if step == 20:
            start = time.perf_counter()
        idx = np.sort(perm[step * args.batch_size:(step + 1) * args.batch_size])
        x = torch.from_numpy(dense[idx])
        c = torch.from_numpy(cat[idx].astype(np.int64))
        y = torch.from_numpy(label[idx].astype(np.float32))
        loss = loss_fn(model(x, c), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= 20 and (step - 20) % interval == interval - 1:
            now = time.perf_counter()
            rates.append(interval * args.batch_size / (now - start))
            start = now
    train_seconds = time.perf_counter() - t_run
    result = {'steps': steps, 'batch_size': args.batch_size, 'threads': args.threads,
              'samples_per_second': float(np.median(rates)) if rates else None,
              'train_seconds': train_seconds}
    if args.eval:
        tl, td, tc = load_split(args.data, schema, 'test')
        scores = score(model, td, tc, args.score_batch)
        result['test_auc'] = float(auc(scores, np.asarray(tl)))
    print(json.dumps(result))


if __name__ == '__main__':
    main()
