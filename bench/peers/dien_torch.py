#!/usr/bin/python3
"""Peer for `aiok train --model dien`: DIEN (Zhou et al., 2019) as a plain PyTorch training
loop in Python, written the way the paper and its reference code describe and a user would
write it: padded behaviour sequences with a mask, torch.nn.GRU over packed sequences as the
interest extractor with the auxiliary loss (next behaviour against an in-batch negative), a
DIN-style attention MLP (80-40, sigmoid) with a masked softmax, an AUGRU cell stepped in a
Python loop, and an MLP (200-80, Dice or PReLU). Each history field shares its embedding
(sparse) with its target field. Same aiok dataset directory (numpy memmap; jagged fields as
offsets + values), same architecture presets, threads and batch size as aiok's side.

usage: dien_torch.py --data DIR [--batch-size 2048] [--optimizer sgd|adagrad] [--lr 0.1]
                     [--embedding-lr LR] [--threads 2] [--max-steps N] [--arch dien|dien-small]
                     [--epochs E] [--eval] [--aux-weight 1.0]
SGD (train_bench.py's setting) or Adagrad, dense and sparse (torch applies both to sparse
gradients); aiok's matching flags: --optimizer adagrad --embedding-update adagrad. On data
without dense fields neither side learns with SGD at lr 0.1 in an epoch (DLRM neither).
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
from dlrm_torch import auc, cardinalities, dense_names  # noqa: E402

# emb per id, attention MLP, final MLP, activation, auxiliary MLP, max history (aiok's presets)
ARCHS = {'dien': (18, [80, 40], [200, 80], 'dice', [100, 50], 100),
         'dien-small': (8, [32, 16], [64, 32], 'prelu', [32, 16], 20)}


def default_target(history, categorical):
    """aiok's pairing: hist_X pairs with X, X_id, or a plural X's singular (+ _id)."""
    if not history.startswith('hist_'):
        return None
    x = history[len('hist_'):]
    candidates = [x, x + '_id'] + ([x[:-1], x[:-1] + '_id'] if x.endswith('s') else [])
    return next((c for c in candidates if c in categorical), None)


def load_split(ds, schema, split):
    """Labels, dense, categorical and per jagged field (offsets, values) of a split."""
    shards = schema['splits'][split]['shards']
    jagged = [f['name'] for f in schema['features']['jagged']]
    n_dense, n_cat = len(dense_names(schema)), len(cardinalities(schema))
    label = np.concatenate([np.memmap(os.path.join(ds, s['label']), np.uint8, 'r') for s in shards])
    dense = (np.concatenate([np.memmap(os.path.join(ds, s['dense']), np.float32, 'r')
                             .reshape(-1, n_dense) for s in shards]) if n_dense
             else np.zeros((len(label), 0), np.float32))
    cat = np.concatenate([np.memmap(os.path.join(ds, s['categorical']), np.int32, 'r')
                          .reshape(-1, n_cat) for s in shards])
    lists = {}
    for name in jagged:
        offsets, values, base = [np.zeros(1, np.int64)], [], 0
        for s in shards:
            files = s['jagged'][name]
            off = np.array(np.memmap(os.path.join(ds, files['offsets']), np.int64, 'r'))
            values.append(np.array(np.memmap(os.path.join(ds, files['values']), np.int32, 'r')))
            offsets.append(off[1:] - off[0] + base)
            base += off[-1] - off[0]
        lists[name] = (np.concatenate(offsets), np.concatenate(values))
    return label, dense, cat, lists


def padded_histories(lists, names, rows, max_history):
    """The rows' most recent max_history events of each named field: [B, T] ids (0 where
    padded), and the lengths [B]."""
    off = lists[names[0]][0]
    lengths = np.minimum(off[rows + 1] - off[rows], max_history)
    longest = max(int(lengths.max()) if len(rows) else 0, 1)
    mask = np.arange(longest)[None, :] < lengths[:, None]
    out = []
    for name in names:
        o, v = lists[name]
        start = o[rows + 1] - lengths
        pos = np.where(mask, start[:, None] + np.arange(longest)[None, :], 0)
        out.append(torch.from_numpy(np.where(mask, v[pos] if len(v) else 0, 0).astype(np.int64)))
    return out, torch.from_numpy(lengths.astype(np.int64))


class Dice(torch.nn.Module):
    """Dice (DIN): p = sigmoid(batch-normalized x), y = p x + (1 - p) alpha x."""

    def __init__(self, width):
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(width, affine=False, eps=1e-8, momentum=0.1)
        self.alpha = torch.nn.Parameter(torch.zeros(width))

    def forward(self, x):
        p = torch.sigmoid(self.bn(x))
        return p * x + (1 - p) * self.alpha * x


class PReLU(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.alpha = torch.nn.Parameter(torch.full((width,), 0.1))

    def forward(self, x):
        return torch.clamp_min(x, 0) + self.alpha * torch.clamp_max(x, 0)


def linear(n_in, n_out):
    """A Linear initialized as aiok's (the DLRM reference's normal init)."""
    layer = torch.nn.Linear(n_in, n_out)
    torch.nn.init.normal_(layer.weight, 0.0, np.sqrt(2.0 / (n_in + n_out)))
    torch.nn.init.normal_(layer.bias, 0.0, np.sqrt(1.0 / n_out))
    return layer


def sigmoid_mlp(n_in, sizes):
    layers = []
    for i, n_out in enumerate(sizes):
        layers.append(linear(n_in, n_out))
        if i + 1 < len(sizes):
            layers.append(torch.nn.Sigmoid())
        n_in = n_out
    return torch.nn.Sequential(*layers)


class AUGRUCell(torch.nn.Module):
    """GRU cell whose update gate the attention scales: h' = (1 - a u) h + a u n, u = 1 - z."""

    def __init__(self, n_in, hidden):
        super().__init__()
        self.x2h = torch.nn.Linear(n_in, 3 * hidden)
        self.h2h = torch.nn.Linear(hidden, 3 * hidden)
        bound = 1 / np.sqrt(hidden)
        for p in self.parameters():
            torch.nn.init.uniform_(p, -bound, bound)

    def forward(self, x, h, a):
        xr, xz, xn = self.x2h(x).chunk(3, 1)
        hr, hz, hn = self.h2h(h).chunk(3, 1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        u = a.unsqueeze(1) * (1 - z)
        return (1 - u) * h + u * n


class Dien(torch.nn.Module):
    def __init__(self, schema, arch):
        super().__init__()
        dim, att, mlp, act, aux, self.max_history = ARCHS[arch]
        cats = schema['features']['categorical']
        names = [c['name'] for c in cats]
        self.pairs = []  # (target column, history field name)
        for f in schema['features']['jagged']:
            target = default_target(f['name'], names)
            if target is not None:
                self.pairs.append((names.index(target), f['name']))
        assert self.pairs, 'no hist_X field pairs with a target'
        targets = [t for t, _ in self.pairs]
        self.others = [c for c in range(len(cats)) if c not in targets]
        # One table per pair (target and history) and per other field.
        self.tables = torch.nn.ModuleList(
            [torch.nn.Embedding(cats[c]['cardinality'], dim, sparse=True)
             for c in targets + self.others])
        for e in self.tables:
            bound = 1 / np.sqrt(e.num_embeddings)
            torch.nn.init.uniform_(e.weight, -bound, bound)
        self.n_dense = len(dense_names(schema))
        e = dim * len(self.pairs)
        h = e
        self.gru = torch.nn.GRU(e, h, batch_first=True)
        self.query = linear(e, h)
        self.query_act = PReLU(h)
        self.attention = sigmoid_mlp(4 * h, att + [1])
        self.augru = AUGRUCell(h, h)
        self.aux = sigmoid_mlp(h + e, aux + [1])
        layers, n_in = [], self.n_dense + len(self.others) * dim + 3 * e + h
        for n_out in mlp:
            layers += [linear(n_in, n_out), Dice(n_out) if act == 'dice' else PReLU(n_out)]
            n_in = n_out
        layers.append(linear(n_in, 1))
        self.mlp = torch.nn.Sequential(*layers)
        self.hidden = h

    def forward(self, dense, cat, histories, lengths):
        """dense [B, D], cat [B, C], histories: per pair [B, T] ids, lengths [B]."""
        b, t = histories[0].shape
        k = len(self.pairs)
        target = torch.cat([self.tables[i](cat[:, c]) for i, (c, _) in enumerate(self.pairs)], 1)
        behaviour = torch.cat([self.tables[i](histories[i]) for i in range(k)], 2)  # [B, T, E]
        mask = torch.arange(t)[None, :] < lengths[:, None]  # [B, T]
        maskf = mask.float()
        history_mean = (behaviour * maskf.unsqueeze(2)).sum(1) / lengths.clamp_min(1).unsqueeze(1)
        # Interest extractor over the rows that have a history.
        states = torch.zeros(b, t, self.hidden)
        alive = torch.nonzero(lengths > 0).squeeze(1)
        if len(alive):
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                behaviour[alive], lengths[alive], batch_first=True, enforce_sorted=False)
            out, _ = self.gru(packed)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
            states = states.index_copy(0, alive, out)
        self.aux_loss = self.auxiliary_loss(states, behaviour, mask) if self.training else None
        # Attention of the target on each state, masked softmax over the row's positions.
        q = self.query_act(self.query(target)).unsqueeze(1).expand(-1, t, -1)
        scores = self.attention(torch.cat([q, states, q - states, q * states], 2)).squeeze(2)
        scores = scores.masked_fill(~mask, -2.0 ** 32 + 1)
        alpha = torch.softmax(scores, 1) * maskf
        # Interest evolution: the AUGRU stepped over time; padding leaves a state as it was.
        h = torch.zeros(b, self.hidden)
        for step in range(t):
            new = self.augru(states[:, step], h, alpha[:, step])
            h = torch.where(mask[:, step:step + 1], new, h)
        parts = [dense] if self.n_dense else []
        parts += [self.tables[k + i](cat[:, c]) for i, c in enumerate(self.others)]
        parts += [target, history_mean, target * history_mean, h]
        return self.mlp(torch.cat(parts, 1)).squeeze(1)

    def auxiliary_loss(self, states, behaviour, mask):
        """h_t predicts e_{t+1} against a random event of another row of the batch."""
        valid = mask[:, 1:]
        if not valid.any():
            return torch.zeros(())
        flat = behaviour[mask]  # every event of the batch
        rows = torch.nonzero(mask)[:, 0]
        h = states[:, :-1][valid]
        pos = behaviour[:, 1:][valid]
        own = torch.nonzero(valid)[:, 0]
        pick = torch.randint(len(flat), (len(own),))
        for _ in range(7):  # redraw negatives that landed in the row itself
            same = rows[pick] == own
            if not same.any():
                break
            pick[same] = torch.randint(len(flat), (int(same.sum()),))
        neg = flat[pick]
        logits = self.aux(torch.cat([torch.cat([h, pos], 1), torch.cat([h, neg], 1)], 0))
        labels = torch.cat([torch.ones(len(own)), torch.zeros(len(own))])
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits.squeeze(1), labels, reduction='sum') / len(own)


def batches(model, data, rows):
    label, dense, cat, lists = data
    histories, lengths = padded_histories(lists, [n for _, n in model.pairs], rows,
                                          model.max_history)
    return (torch.from_numpy(dense[rows]), torch.from_numpy(cat[rows].astype(np.int64)),
            histories, lengths, torch.from_numpy(label[rows].astype(np.float32)))


def score(model, data, batch):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(data[0]), batch):
            rows = np.arange(i, min(i + batch, len(data[0])))
            d, c, hs, ln, _ = batches(model, data, rows)
            out.append(torch.sigmoid(model(d, c, hs, ln)))
    return torch.cat(out).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--batch-size', type=int, default=2048)
    ap.add_argument('--optimizer', default='sgd', choices=['sgd', 'adagrad'])
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--embedding-lr', type=float)
    ap.add_argument('--aux-weight', type=float, default=1.0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--max-steps', type=int, default=0)
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--arch', default='dien', choices=ARCHS)
    ap.add_argument('--eval', action='store_true')
    ap.add_argument('--score-batch', type=int, default=4096)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    schema = json.load(open(os.path.join(args.data, 'schema.json')))
    train = load_split(args.data, schema, 'train')
    model = Dien(schema, args.arch)
    # Both optimizers take sparse gradients; the tables get their own rate, as in aiok.
    tables = [e.weight for e in model.tables]
    dense_params = [p for p in model.parameters() if all(p is not t for t in tables)]
    kind = torch.optim.SGD if args.optimizer == 'sgd' else torch.optim.Adagrad
    optimizers = [kind(dense_params, lr=args.lr),
                  kind(tables, lr=args.embedding_lr if args.embedding_lr else args.lr)]
    loss_fn = torch.nn.BCEWithLogitsLoss()
    n = len(train[0])
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    interval, rates, start, steps = 50, [], None, 0
    t_run = time.perf_counter()
    for epoch in range(args.epochs):
        perm = np.random.RandomState(epoch).permutation(n)
        model.train()
        for step in range(steps_per_epoch):
            if args.max_steps and steps >= args.max_steps:
                break
            if steps == 20:
                start = time.perf_counter()
            rows = np.sort(perm[step * args.batch_size:(step + 1) * args.batch_size])
            d, c, hs, ln, y = batches(model, train, rows)
            loss = loss_fn(model(d, c, hs, ln), y) + args.aux_weight * model.aux_loss
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            steps += 1
            if steps > 20 and (steps - 20) % interval == 0:
                now = time.perf_counter()
                rates.append(interval * args.batch_size / (now - start))
                start = now
    result = {'steps': steps, 'batch_size': args.batch_size, 'threads': args.threads,
              'samples_per_second': float(np.median(rates)) if rates else None,
              'train_seconds': time.perf_counter() - t_run}
    if args.eval:
        test = load_split(args.data, schema, 'test')
        result['test_auc'] = float(auc(score(model, test, args.score_batch),
                                       np.asarray(test[0])))
    print(json.dumps(result))


if __name__ == '__main__':
    main()
