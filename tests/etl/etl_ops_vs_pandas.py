#!/usr/bin/python3
"""aiok's column operators against the same steps written in pandas / numpy, through the real
CLI (issue 11, "What it must show").

Usage: etl_ops_vs_pandas.py PATH/TO/aiok

A generated table — missing values in every column, values in valid/test that train never
saw, ties (rounded floats, repeated counts, values on bucket boundaries) and the integer -1
as a categorical value — goes through `aiok etl` with one pipeline that covers categorify
(with freq_threshold, and on a list field), bucketize (fixed and quantile), hashed_cross,
count_encode (plain and log), frequency_encode, target_encode (out of fold, and in fold
without smoothing), fill_missing (constant and median), normalize, clip, log1p and
datetime_parts (every part, epoch and YYMMDDHH). Every split is exported with
`aiok dataset export` and compared column by column with the same steps computed here from
the train split (the first 70% of records, `fractions:0.7,0.15`): ids exactly, floats within
1e-6 relative (aiok's shards hold float32; the reference is rounded to float32 too).

Definitions the reference follows, as aiok documents them:
- Categorical values are 64-bit keys: integers as they are (-1 as INT64_MIN, so that it stays
  a value and not "missing"), strings by aiok's stable hash of their bytes (field_binding.h),
  reimplemented here. categorify ids: 0 missing, 1 rare or unseen, 2.. by descending train
  count, ties by ascending key — so the tie order needs the hash.
- bucketize quantiles: boundary k (k = 1..q-1) is the train value that follows the smallest
  value whose cumulative count reaches k/q of the train rows — numpy's
  quantile(method='inverted_cdf') in exact arithmetic, then the next distinct value; equal
  boundaries merge. A value's id is 1 + the number of boundaries at or below it.
- hashed_cross: 1 + a chain of SplitMix64 over the inputs' keys, mod buckets; 0 when every
  input is missing (core/hash.h, reimplemented).
- target_encode: a train row's fold is HashPair(seed, record) mod folds; it is encoded from
  the other folds (their mean as the prior); valid/test rows from all train rows. Missing is
  a value of its own. frequency_encode divides by all train rows, missing included.
- normalize: population standard deviation (ddof 0) of the train values after the fill.

Exits 1 on any mismatch, naming split, column, row and both values; the last line is
`etl_ops_vs_pandas: N columns passed, M failed`.
"""

import datetime
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd

AIOK = sys.argv[1]
MASK = (1 << 64) - 1
ROWS = 4000
TRAIN_END = int(ROWS * 0.7)  # aiok's fractions rule: floor(rows * T)
VALID_END = TRAIN_END + int(ROWS * 0.15)
MISSING_KEY = -1  # what a missing categorical value is to the operators
INT64_MIN = -(1 << 63)


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def hash_pair(a, b):
    return mix64(mix64(a) ^ ((b * 0xD6E8FEB86659FD93) & MASK))


def hash_bytes(data):
    h = 0x9E3779B97F4A7C15 ^ len(data)
    i = 0
    while i + 8 <= len(data):
        h = mix64(h ^ int.from_bytes(data[i:i + 8], "little"))
        i += 8
    tail = int.from_bytes(data[i:] + bytes(8 - (len(data) - i)), "little")
    return mix64(h ^ tail ^ (((len(data) - i) << 56) & MASK))


def signed(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def key(value):
    """A categorical value's 64-bit key as aiok makes it (None: missing)."""
    if value is None:
        return MISSING_KEY
    k = signed(hash_bytes(value.encode())) if isinstance(value, str) else int(value)
    return INT64_MIN if k == MISSING_KEY else k


def make_table(rng):
    n = ROWS
    test_part = np.arange(n) >= TRAIN_END
    # a: Zipf-like strings with many ties in count; unseen "new" values after train.
    a = np.array([f"a{k}" for k in np.minimum(rng.zipf(1.6, n), 60)], dtype=object)
    a[test_part & (rng.random(n) < 0.1)] = "new_value"
    a[rng.random(n) < 0.08] = None
    # b: small integers, -1 among them (a value, not missing).
    b = rng.integers(-3, 25, n).astype(object)
    b[test_part & (rng.random(n) < 0.05)] = 999
    b[rng.random(n) < 0.05] = None
    tags = []
    for i in range(n):
        if rng.random() < 0.07:
            tags.append(None)
            continue
        pool = 24 if i >= TRAIN_END else 20  # tags 20..23 only after train
        tags.append([f"t{k}" for k in rng.integers(0, pool, rng.integers(1, 4))])
    x = np.round(rng.normal(5, 3, n), 1)
    x[rng.random(n) < 0.1] = np.nan
    y = np.round(rng.normal(20, 30, n))
    y[rng.random(n) < 0.1] = np.nan
    q = np.minimum(rng.geometric(0.25, n), 20).astype(float)  # many ties
    q[rng.random(n) < 0.05] = np.nan
    f = rng.choice([-5.0, 0.0, 0.5, 1.0, 3.0, 10.0, 55.5, 100.0, 250.0], n)
    f[rng.random(n) < 0.05] = np.nan
    start = datetime.datetime(2014, 10, 21, tzinfo=datetime.timezone.utc)
    hours = [start + datetime.timedelta(hours=int(h)) for h in rng.integers(0, 24 * 60, n)]
    hour = np.array([float(t.strftime("%y%m%d%H")) for t in hours])
    hour[rng.random(n) < 0.03] = np.nan
    ts = rng.integers(978307200, 1893456000, n).astype(float)  # 2001 .. 2029
    ts[rng.random(n) < 0.03] = np.nan
    logit = -1.0 + 0.08 * np.array([int(v[1:]) % 7 if v and v[0] == "a" else 0 for v in a])
    click = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"click": click, "a": a, "b": b, "tags": tags, "x": x, "y": y, "q": q,
                         "f": f, "hour": hour, "ts": ts})


def write_csv(df, path):
    def cell(v, integer=False):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, list):
            return "|".join(v)
        if integer:
            return str(int(v))
        return repr(v) if isinstance(v, float) else str(v)

    with open(path, "w") as out:
        out.write(",".join(df.columns) + "\n")
        for row in df.itertuples(index=False):
            out.write(",".join([
                cell(row.click), cell(row.a), cell(row.b), cell(row.tags), cell(row.x),
                cell(row.y), cell(row.q, True), cell(row.f), cell(row.hour, True),
                cell(row.ts, True)]) + "\n")


SCHEMA = """format:
  separator: ","
  header: true
  quote: "\\""
  list_separator: "|"
  null_tokens: [""]
  trim: true
fields:
  - {name: click, role: label, type: int64}
  - {name: a, role: categorical, type: string}
  - {name: b, role: categorical, type: int64}
  - {name: tags, role: multi_categorical, type: list<string>}
  - {name: x, role: dense, type: float64}
  - {name: y, role: dense, type: float64}
  - {name: q, role: dense, type: int64}
  - {name: f, role: dense, type: float64}
  - {name: hour, role: dense, type: int64}
  - {name: ts, role: dense, type: int64}
"""

PIPELINE = """steps:
  - {columns: [a], ops: [categorify: {freq_threshold: 3}]}
  - {columns: [b], ops: [categorify: {freq_threshold: 1}]}
  - {columns: [tags], ops: [categorify: {freq_threshold: 5}]}
  - {columns: [x], ops: [fill_missing: {strategy: median}, normalize: {method: standard}]}
  - {columns: [y], ops: [fill_missing: {value: 0}, clip: {min: 0, max: 50}, log1p]}
  - {columns: [q], ops: [bucketize: {quantiles: 8}]}
  - {columns: [f], ops: [bucketize: {boundaries: "0,1,10,100"}]}
  - {columns: [hour], ops: [datetime_parts: {part: hour, format: yymmddhh}]}
  - {columns: [ts], ops: [datetime_parts: {part: year, first_year: 2000, last_year: 2030}]}
  - {inputs: [hour], output: hour.weekday, ops: [datetime_parts: {part: weekday, format: yymmddhh}]}
  - {inputs: [hour], output: hour.day, ops: [datetime_parts: {part: day, format: yymmddhh}]}
  - {inputs: [hour], output: hour.month, ops: [datetime_parts: {part: month, format: yymmddhh}]}
  - {inputs: [ts], output: ts.hour, ops: [datetime_parts: {part: hour}]}
  - {inputs: [ts], output: ts.weekday, ops: [datetime_parts: {part: weekday}]}
  - {inputs: [a, b], output: a_x_b, ops: [hashed_cross: {buckets: 997}]}
  - {inputs: [a], output: a.count, ops: [count_encode]}
  - {inputs: [b], output: b.count_log, ops: [count_encode: {log: true}]}
  - {inputs: [a], output: a.freq, ops: [frequency_encode]}
  - {inputs: [a], output: a.te, ops: [target_encode: {folds: 5, smoothing: 10, seed: 7}]}
  - {inputs: [b], output: b.te_in_fold, ops: [target_encode: {folds: 1, smoothing: 0}]}
"""
TE_SEED, TE_FOLDS, TE_SMOOTHING = 7, 5, 10.0


# ---- the reference ----------------------------------------------------------------------


def categorify(train_keys, keys, threshold):
    counts = {}
    for k in train_keys:
        if k != MISSING_KEY:
            counts[k] = counts.get(k, 0) + 1
    kept = sorted((k for k, c in counts.items() if c >= threshold), key=lambda k: (-counts[k], k))
    ids = {k: 2 + i for i, k in enumerate(kept)}
    return [0 if k == MISSING_KEY else ids.get(k, 1) for k in keys]


def quantile_boundaries(train, q):
    values = np.sort(train[~np.isnan(train)])
    uniq, counts = np.unique(values, return_counts=True)
    total = int(counts.sum())
    cum = np.cumsum(counts)
    boundaries = []
    for k in range(1, q):
        # The smallest value whose cumulative count reaches k/q of the rows, exactly.
        i = int(np.argmax(cum * q >= k * total))
        numpy_value = np.quantile(values, k / q, method="inverted_cdf")
        if numpy_value != uniq[i]:  # only where k/q * rows rounds across an integer
            print(f"note: numpy's floating-point inverted_cdf quantile {k}/{q} is "
                  f"{numpy_value}, in exact arithmetic {uniq[i]}")
        if i + 1 < len(uniq) and (not boundaries or uniq[i + 1] > boundaries[-1]):
            boundaries.append(uniq[i + 1])
    return np.array(boundaries)


def bucketize(values, boundaries):
    ids = 1 + np.searchsorted(boundaries, values, side="right")
    return np.where(np.isnan(values), 0, ids)


def cross(key_columns, buckets):
    out = []
    for keys in zip(*key_columns):
        h = 0x5BD1E9955BD1E995
        for k in keys:
            h = mix64(h ^ (k & MASK))
        out.append(1 + h % buckets if any(k != MISSING_KEY for k in keys) else 0)
    return out


def time_of(value, yymmddhh):
    if np.isnan(value):
        return None
    if yymmddhh:
        return datetime.datetime.strptime(str(int(value)), "%y%m%d%H")
    return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc)


def parts(values, part, yymmddhh=False, first_year=1970):
    out = []
    for v in values:
        t = time_of(v, yymmddhh)
        if t is None:
            out.append(0)
        else:
            out.append({"hour": t.hour + 1, "weekday": t.isoweekday(), "day": t.day,
                        "month": t.month, "year": 1 + t.year - first_year}[part])
    return out


def target_encode(keys, labels, folds, smoothing, seed):
    n_train = TRAIN_END
    fold = [hash_pair(seed, r) % folds for r in range(n_train)]
    sums = {}
    for r in range(n_train):
        s = sums.setdefault(keys[r], [[0.0] * folds, [0] * folds])
        s[0][fold[r]] += labels[r]
        s[1][fold[r]] += 1
    fold_sum = [0.0] * folds
    fold_count = [0] * folds
    for r in range(n_train):
        fold_sum[fold[r]] += labels[r]
        fold_count[fold[r]] += 1
    prior = sum(fold_sum) / sum(fold_count)

    def smoothed(s, c, p):
        w = c + smoothing
        return (s + p * smoothing) / w if w > 0 else p

    out = []
    for r, k in enumerate(keys):
        if r < n_train and folds > 1:
            f = fold[r]
            other = sum(fold_count) - fold_count[f]
            p = (sum(fold_sum) - fold_sum[f]) / other if other > 0 else prior
            if k not in sums:
                out.append(p)
                continue
            s = sum(v for g, v in enumerate(sums[k][0]) if g != f)
            c = sum(v for g, v in enumerate(sums[k][1]) if g != f)
            out.append(smoothed(s, c, p))
        else:
            out.append(smoothed(sum(sums[k][0]), sum(sums[k][1]), prior) if k in sums else prior)
    return out


def reference(df):
    train = df.iloc[:TRAIN_END]
    labels = df["click"].astype(float).tolist()
    a_keys = [key(v) for v in df["a"]]
    b_keys = [key(None if v is None else int(v)) for v in df["b"]]
    ref = {"label": df["click"].astype(float).to_numpy()}
    ref["a"] = categorify(a_keys[:TRAIN_END], a_keys, 3)
    ref["b"] = categorify(b_keys[:TRAIN_END], b_keys, 1)
    tag_keys = [[key(t) for t in (v or [])] for v in df["tags"]]
    flat_train = [k for row in tag_keys[:TRAIN_END] for k in row]
    flat_all = [k for row in tag_keys for k in row]
    flat_ids = categorify(flat_train, flat_all, 5)
    ref["tags"], i = [], 0
    for row in tag_keys:
        ref["tags"].append("|".join(str(x) for x in flat_ids[i:i + len(row)]))
        i += len(row)
    x = df["x"].to_numpy()
    filled = np.where(np.isnan(x), train["x"].median(), x)
    mean, std = filled[:TRAIN_END].mean(), filled[:TRAIN_END].std(ddof=0)
    ref["x"] = (filled - mean) / std
    ref["y"] = np.log1p(np.clip(df["y"].fillna(0.0).to_numpy(), 0, 50))
    ref["q"] = bucketize(df["q"].to_numpy(), quantile_boundaries(train["q"].to_numpy(), 8))
    ref["f"] = bucketize(df["f"].to_numpy(), np.array([0.0, 1.0, 10.0, 100.0]))
    hour, ts = df["hour"].to_numpy(), df["ts"].to_numpy()
    ref["hour"] = parts(hour, "hour", True)
    ref["ts"] = parts(ts, "year", first_year=2000)
    ref["hour.weekday"] = parts(hour, "weekday", True)
    ref["hour.day"] = parts(hour, "day", True)
    ref["hour.month"] = parts(hour, "month", True)
    ref["ts.hour"] = parts(ts, "hour")
    ref["ts.weekday"] = parts(ts, "weekday")
    ref["a_x_b"] = cross([a_keys, b_keys], 997)
    a_counts = pd.Series([k for k in a_keys[:TRAIN_END] if k != MISSING_KEY]).value_counts()
    b_counts = pd.Series([k for k in b_keys[:TRAIN_END] if k != MISSING_KEY]).value_counts()
    ref["a.count"] = np.array([a_counts.get(k, 0) for k in a_keys], dtype=float)
    ref["b.count_log"] = np.log1p(np.array([b_counts.get(k, 0) for k in b_keys], dtype=float))
    ref["a.freq"] = ref["a.count"] / TRAIN_END
    ref["a.te"] = target_encode(a_keys, labels, TE_FOLDS, TE_SMOOTHING, TE_SEED)
    ref["b.te_in_fold"] = target_encode(b_keys, labels, 1, 0.0, 0)
    return ref


# ---- comparison -------------------------------------------------------------------------


def compare(split, column, got, want, failures):
    float_column = isinstance(want, np.ndarray) and want.dtype.kind == "f" or (
        isinstance(want, list) and want and isinstance(want[0], float))
    bad = []
    for r, (g, w) in enumerate(zip(got, want)):
        if float_column:
            w32 = float(np.float32(w))
            ok = abs(float(g) - w32) <= 1e-6 * abs(w32) + 1e-9
        elif isinstance(w, str):
            ok = ("" if pd.isna(g) else str(g)) == w
        else:
            ok = int(g) == int(w)
        if not ok:
            bad.append(f"row {r}: aiok {g!r}, pandas {w!r}")
    if len(got) != len(want):
        bad.insert(0, f"aiok wrote {len(got)} rows, pandas {len(want)}")
    if bad:
        failures.append(f"{split} {column}: {len(bad)} mismatches; " + "; ".join(bad[:5]))
        return False
    return True


def main():
    rng = np.random.default_rng(20261129)
    df = make_table(rng)
    ref = reference(df)
    failures = []
    passed = 0
    with tempfile.TemporaryDirectory() as directory:
        csv = os.path.join(directory, "table.csv")
        write_csv(df, csv)
        with open(os.path.join(directory, "s.yaml"), "w") as f:
            f.write(SCHEMA)
        with open(os.path.join(directory, "p.yaml"), "w") as f:
            f.write(PIPELINE)
        out = os.path.join(directory, "ds")
        subprocess.run([AIOK, "etl", "--input", csv, "--schema", os.path.join(directory, "s.yaml"),
                        "--pipeline", os.path.join(directory, "p.yaml"), "--out", out,
                        "--split", "fractions:0.7,0.15", "-q"], check=True)
        for split, (begin, end) in {"train": (0, TRAIN_END), "valid": (TRAIN_END, VALID_END),
                                    "test": (VALID_END, ROWS)}.items():
            tsv = os.path.join(directory, split + ".tsv")
            subprocess.run([AIOK, "dataset", "export", out, "--split", split, "--out", tsv,
                            "--header", "-q"], check=True)
            got = pd.read_csv(tsv, sep="\t", dtype={"tags": str}, keep_default_na=False)
            missing_columns = sorted(set(ref) - set(got.columns))
            if missing_columns:
                failures.append(f"{split}: aiok wrote no column {missing_columns}")
            for column in ref:
                if column in got.columns:
                    want = ref[column][begin:end]
                    passed += compare(split, column, got[column].tolist(), want, failures)
    for failure in failures:
        print("FAIL", failure)
    print(f"etl_ops_vs_pandas: {passed} columns passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
