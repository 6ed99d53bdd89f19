#!/usr/bin/python3
"""Peer for `aiok train --model wnd`: Wide&Deep (Cheng et al., 2016) as a plain PyTorch
training loop in Python, written the way the paper describes and a user would write it — the
wide part a linear model over the one-hot categorical values (an EmbeddingBag of width 1 with
sparse gradients, trained by Adagrad, which torch can apply sparsely; torch has no FTRL), the
deep part 32-wide EmbeddingBags and a ReLU MLP (1024-512-256), the two logits summed and
trained jointly. Same aiok dataset directory (numpy memmap), same threads.

usage: wnd_torch.py --data DIR [--batch-size 2048] [--lr 0.1] [--wide-lr 0.05] [--threads 2]
                    [--max-steps N] [--arch wnd|wnd-small] [--epochs E] [--eval]
Prints samples/s (median over 50-step intervals, after a 20-step warm-up) and, with --eval,
the test AUC after the run.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dlrm_torch import auc, cardinalities, load_split, score  # noqa: E402

ARCHS = {'wnd': (32, [1024, 512, 256]), 'wnd-small': (16, [256, 128])}


class WideDeep(torch.nn.Module):
    def __init__(self, cards, dim, hidden, n_dense):
        super().__init__()
        self.deep_emb = torch.nn.ModuleList(
            [torch.nn.EmbeddingBag(n, dim, mode='sum', sparse=True) for n in cards])
        for e in self.deep_emb:
            bound = 1 / np.sqrt(e.num_embeddings)
            torch.nn.init.uniform_(e.weight, -bound, bound)
        self.wide = torch.nn.ModuleList(
            [torch.nn.EmbeddingBag(n, 1, mode='sum', sparse=True) for n in cards])
        for w in self.wide:
            torch.nn.init.zeros_(w.weight)
        layers, n_in = [], n_dense + len(cards) * dim
        for n_out in hidden:
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
            n_in = n_out
        layers.append(torch.nn.Linear(n_in, 1))
        # Initialized as aiok initializes its MLPs (the DLRM reference's normal init), so that
        # an equal-epoch AUC comparison compares the trainers, not two initializations.
        for layer in layers:
            if isinstance(layer, torch.nn.Linear):
                fan_out, fan_in = layer.weight.shape
                torch.nn.init.normal_(layer.weight, 0.0, np.sqrt(2.0 / (fan_in + fan_out)))
                torch.nn.init.normal_(layer.bias, 0.0, np.sqrt(1.0 / fan_out))
        self.deep = torch.nn.Sequential(*layers)
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def forward(self, dense, cat):
        offsets = torch.arange(cat.shape[0])
        deep_in = torch.cat([dense] + [bag(cat[:, k], offsets)
                                       for k, bag in enumerate(self.deep_emb)], 1)
        wide = sum(bag(cat[:, k], offsets) for k, bag in enumerate(self.wide))
        return (self.deep(deep_in) + wide).squeeze(1) + self.bias

    def wide_parameters(self):
        return [w.weight for w in self.wide]

    def other_parameters(self):
        wide = {id(p) for p in self.wide_parameters()}
        return [p for p in self.parameters() if id(p) not in wide]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--batch-size', type=int, default=2048)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--wide-lr', type=float, default=0.05)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--max-steps', type=int, default=0)
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--arch', default='wnd', choices=ARCHS)
    ap.add_argument('--eval', action='store_true')
    ap.add_argument('--score-batch', type=int, default=16384)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    schema = json.load(open(os.path.join(args.data, 'schema.json')))
    cards = cardinalities(schema)
    label, dense, cat = load_split(args.data, schema, 'train')
    dim, hidden = ARCHS[args.arch]
    model = WideDeep(cards, dim, hidden, dense.shape[1])
    # The paper: FTRL on the wide part, AdaGrad on the deep part. Here SGD on the deep part
    # (as aiok's side of the benchmark uses) and sparse Adagrad on the wide weights.
    deep_optimizer = torch.optim.SGD(model.other_parameters(), lr=args.lr)
    wide_optimizer = torch.optim.Adagrad(model.wide_parameters(), lr=args.wide_lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    steps_per_epoch = len(label) // args.batch_size
    interval, rates, start, steps = 50, [], None, 0
    t_run = time.perf_counter()
    for epoch in range(args.epochs):
        perm = np.random.RandomState(epoch).permutation(len(label))
        for step in range(steps_per_epoch):
            if args.max_steps and steps >= args.max_steps:
                break
            if steps == 20:
                start = time.perf_counter()
            idx = np.sort(perm[step * args.batch_size:(step + 1) * args.batch_size])
            x = torch.from_numpy(dense[idx])
            c = torch.from_numpy(cat[idx].astype(np.int64))
            y = torch.from_numpy(label[idx].astype(np.float32))
            loss = loss_fn(model(x, c), y)
            deep_optimizer.zero_grad()
            wide_optimizer.zero_grad()
            loss.backward()
            deep_optimizer.step()
            wide_optimizer.step()
            steps += 1
            if steps > 20 and (steps - 20) % interval == 0:
                now = time.perf_counter()
                rates.append(interval * args.batch_size / (now - start))
                start = now
    result = {'steps': steps, 'batch_size': args.batch_size, 'threads': args.threads,
              'samples_per_second': float(np.median(rates)) if rates else None,
              'train_seconds': time.perf_counter() - t_run}
    if args.eval:
        tl, td, tc = load_split(args.data, schema, 'test')
        scores = score(model, td, tc, args.score_batch)
        result['test_auc'] = float(auc(scores, np.asarray(tl)))
    print(json.dumps(result))


if __name__ == '__main__':
    main()
