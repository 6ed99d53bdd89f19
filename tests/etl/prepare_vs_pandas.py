#!/usr/bin/python3
"""aiok's prepare steps (pipeline `prepare:`, run by DuckDB) against the same steps written in
pandas / plain Python, through the real CLI (issue 11).

Usage: prepare_vs_pandas.py PATH/TO/aiok

A generated event log (missing users, items, prices and times; ties in time; items the side
table lacks) and a side table go through one pipeline per case with
`aiok etl --prepare-only OUT.jsonl`; the same step is computed here and the tables compared
row by row in order: integers and strings exactly, floats within 1e-6 relative, missing
against missing, lists element by element. Draws (sample, negative_sample) are aiok's
documented counter-based hash of (seed, row, stream) (core/hash.h), recomputed here.

Also: negative_sample draws from the train split's items only, and its negative history is
aligned with the history and never holds the positive at its position; groupby_aggregate's
train rows under a time split; the sql step's expressions against the same in pandas.

Then bad input: each case must fail with exit code != 0 and a message naming the step and
the column (and the line where there is one); an sql expression that cannot be computed from
the row alone (aggregate, window, subquery, random(), the label, hidden columns) is refused
naming why; under --on-error skip an unparseable time becomes a reject of its input line.

Exits 1 on any mismatch; the last line is `prepare_vs_pandas: N passed, M failed`.
"""

import json
import math
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd

AIOK = sys.argv[1]
MASK = (1 << 64) - 1


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def hash_pair(a, b):
    return mix64(mix64(a) ^ ((b * 0xD6E8FEB86659FD93) & MASK))


def unit(seed, row, stream):
    return (hash_pair(hash_pair(seed, row), stream) >> 11) * 2.0 ** -53


def missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def clean(v):
    """A pandas/numpy value as a plain Python value (None for missing)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [clean(x) for x in v]
    if missing(v) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def same(a, b):
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            same(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    a, b = float(a), float(b)
    return a == b or abs(a - b) <= 1e-6 * max(abs(a), abs(b))


# ---- data ---------------------------------------------------------------------------------

def make_data(directory):
    rng = random.Random(11)
    rows = []
    for r in range(400):
        user = rng.randint(1, 30) if rng.random() > 0.05 else None
        item = rng.randint(1, 50) if rng.random() > 0.05 else None
        time = rng.randint(0, 150) if rng.random() > 0.03 else None  # ties are frequent
        price = round(rng.uniform(0.5, 9.5), 2) if rng.random() > 0.1 else None
        label = 1 if rng.random() < 0.35 else 0
        rows.append((user, item, time, price, label))
    with open(os.path.join(directory, "events.csv"), "w") as f:
        f.write("user_id,item_id,ts,price,label\n")
        for row in rows:
            f.write(",".join("" if v is None else str(v) for v in row) + "\n")
    with open(os.path.join(directory, "items.csv"), "w") as f:
        f.write("item_id,cat_id,brand\n")
        for item in range(1, 46):  # 46..50 are unseen by the side table
            cat = "" if item % 13 == 0 else str(item % 7 + 1)
            brand = "" if item % 11 == 0 else f"b{item % 5}"
            f.write(f"{item},{cat},{brand}\n")
        f.write("99,1,b9\n")  # a side row no event has
    # The same items and 100k more that no event has: a side table above a 1 MiB budget.
    with open(os.path.join(directory, "items.csv")) as f:
        text = f.read()
    with open(os.path.join(directory, "items_big.csv"), "w") as f:
        f.write(text)
        for item in range(1000, 101000):
            f.write(f"{item},{item % 7 + 1},b{item % 5}\n")
    events = pd.read_csv(os.path.join(directory, "events.csv"))
    items = pd.read_csv(os.path.join(directory, "items.csv"))
    return events, items


def records(df):
    return [{k: clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def run_prepare(directory, name, steps, extra=()):
    pipeline = os.path.join(directory, name + ".json")
    with open(pipeline, "w") as f:
        json.dump({"prepare": steps, "steps": []}, f)
    out = os.path.join(directory, name + ".jsonl")
    cmd = [AIOK, "etl", "--input", os.path.join(directory, "events.csv"), "--pipeline", pipeline,
           "--prepare-only", out, "-q", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: aiok failed: {done.stderr.strip()}")
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


# ---- references ---------------------------------------------------------------------------

def ref_join(events, items, how):
    # pandas' inner merge groups rows by key; the table's order is kept by a left merge.
    merged = events.merge(items, on="item_id", how="left", sort=False, indicator=True)
    if how == "inner":
        merged = merged[merged["_merge"] == "both"]
    return records(merged.drop(columns="_merge"))


def ref_filter(events):
    keep = (events.price > 2) & events.user_id.notna() & (events.user_id != 3)
    return records(events[keep])


def ref_dedupe(events):
    return records(events.drop_duplicates(subset=["user_id", "item_id"], keep="first"))


def ref_sample_fraction(events, fraction, seed):
    keep = [unit(seed, r, 1) < fraction for r in range(len(events))]
    return records(events[keep])


def ref_sample_negatives(events, rate, seed):
    positive = events.label == 1
    keep = [p or unit(seed, r, 1) < rate for r, p in enumerate(positive)]
    out = events.copy()
    out["sample_weight"] = np.where(positive, 1.0, 1.0 / rate)
    return records(out[keep])


def ref_sort(events):
    return records(events.sort_values(["ts", "user_id"], kind="stable", na_position="last"))


def user_order(events):
    """Each user's rows in (time, row) order, missing times last; users without an id left out."""
    order = {}
    for r, (user, ts) in enumerate(zip(events.user_id, events.ts)):
        if missing(user):
            continue
        order.setdefault(user, []).append(r)
    for user, rows in order.items():
        rows.sort(key=lambda r: (missing(events.ts.iloc[r]), 0 if missing(events.ts.iloc[r])
                                 else events.ts.iloc[r], r))
    return order


def ref_lag(events):
    lag = [None] * len(events)
    for rows in user_order(events).values():
        for prev, cur in zip(rows, rows[1:]):
            a, b = events.ts.iloc[prev], events.ts.iloc[cur]
            lag[cur] = None if missing(a) or missing(b) else float(b - a)
    out = records(events)
    for row, value in zip(out, lag):
        row["lag"] = value
    return out


def ref_history(events, items, max_len, min_len, only_clicks):
    with_cat = events.merge(items[["item_id", "cat_id"]], on="item_id", how="left", sort=False)
    hist_item = [None] * len(with_cat)
    hist_cat = [None] * len(with_cat)
    for rows in user_order(with_cat).values():
        seen = []
        for r in rows:
            if not missing(with_cat.ts.iloc[r]):  # no time, no history: its past is unknown
                hist_item[r] = [i for i, _ in seen][-max_len:]
                hist_cat[r] = [c for _, c in seen][-max_len:]
            item, cat = with_cat.item_id.iloc[r], with_cat.cat_id.iloc[r]
            clicked = with_cat.label.iloc[r] == 1 or not only_clicks
            if clicked and not missing(item) and not missing(cat):
                seen.append((int(item), int(cat)))
    out = records(with_cat)
    kept = []
    for row, items_, cats in zip(out, hist_item, hist_cat):
        row["hist_item_id"], row["hist_cat_id"] = items_, cats
        if min_len == 0 or (items_ is not None and len(items_) >= min_len):
            kept.append(row)
    return kept


def ref_groupby(events, train_fraction):
    train = events.iloc[: int(len(events) * train_fraction)]
    grouped = train.groupby("user_id", dropna=True)
    stats = pd.DataFrame({
        "user_id_item_id_count": grouped.item_id.count(),
        "user_id_item_id_nunique": grouped.item_id.nunique(),
        "user_id_price_sum": grouped.price.sum(min_count=1),
        "user_id_price_mean": grouped.price.mean(),
        "user_id_price_min": grouped.price.min(),
        "user_id_ts_max": grouped.ts.max(),
    }).reset_index()
    out = events.merge(stats, on="user_id", how="left", sort=False)
    # pandas matches a missing key with a missing key; SQL never does.
    out.loc[out.user_id.isna(), stats.columns[1:]] = np.nan
    for column in ["user_id_item_id_count", "user_id_item_id_nunique"]:
        out[column] = out[column].fillna(0).astype(int)
    return records(out)


def kaggle_train_end(rows):
    """The first row past the train split under the Kaggle rule (data/splits.h)."""
    return rows * 6 // 7


def output_positions(events, k):
    """Where each input row lands once k negatives follow every positive before it, and the
    output's row count."""
    positions, before = [], 0
    for label in events.label:
        positions.append(len(positions) + k * before)
        before += label == 1
    return positions, len(events) + k * before


def dictionary_of(rows, side=(), known=()):
    """Items of `rows` (records) in item order: [(item, count, side values)], side values the
    first present ones; with `known`, only items whose `known` side values are present."""
    items = {}
    for row in rows:
        item = row["item_id"]
        if item is None:
            continue
        entry = items.setdefault(item, [0, {c: None for c in side}])
        entry[0] += 1
        for c in side:
            if entry[1][c] is None and row[c] is not None:
                entry[1][c] = row[c]
    out = [(item, count, values) for item, (count, values) in sorted(items.items())]
    return [e for e in out if all(e[2][c] is not None for c in known)]


def draw(dictionary, u, by, positive):
    if by == "uniform":
        index = int(math.floor(u * len(dictionary)))
    else:
        starts = np.concatenate([[0], np.cumsum([c for _, c, _ in dictionary])[:-1]])
        total = sum(c for _, c, _ in dictionary)
        index = int(np.searchsorted(starts, int(math.floor(u * total)), side="right") - 1)
    if dictionary[index][0] == positive:
        index = (index + 1) % len(dictionary)
    return dictionary[index]


def ref_negatives(events, k, by, seed, train_end=kaggle_train_end, rows=None, side=()):
    """negative_sample: the dictionary is the items of the rows that will be train rows of the
    output (by their position there), never of valid or test rows."""
    rows = records(events) if rows is None else rows
    positions, total_rows = output_positions(pd.DataFrame(rows), k)
    end = train_end(total_rows)
    dictionary = dictionary_of([r for r, p in zip(rows, positions) if p < end], side)
    out = []
    for r, row in enumerate(rows):
        out.append(dict(row))
        if row["label"] != 1:
            continue
        for j in range(k):
            item, _, values = draw(dictionary, unit(seed, r * k + j, 2), by, row["item_id"])
            negative = dict(row)
            negative["item_id"] = item
            negative.update(values)
            negative["label"] = 0
            out.append(negative)
    return out


def ref_negative_history(events, items, k, by, seed, train_fraction):
    """collapse_history then negative_sample with a negative history: per row, for each
    position of hist_item_id a drawn item (by the same rule, from train rows' items whose
    category is known) other than the one there, and its category."""
    rows = ref_history(events, items, 4, 0, True)
    positions, total_rows = output_positions(pd.DataFrame(rows), k)
    end = int(total_rows * train_fraction)
    train = [r for r, p in zip(rows, positions) if p < end]
    dictionary = dictionary_of(train, ["cat_id"], ["cat_id"])
    for r, row in enumerate(rows):
        history = row["hist_item_id"]
        if history is None:
            row["neg_hist_item_id"] = row["neg_hist_cat_id"] = None
            continue
        drawn = [draw(dictionary, unit(seed, r, (1 << 32) + j), by, h)
                 for j, h in enumerate(history)]
        row["neg_hist_item_id"] = [d[0] for d in drawn]
        row["neg_hist_cat_id"] = [d[2]["cat_id"] for d in drawn]
    if k == 0:
        return rows
    return ref_negatives(None, k, by, seed, lambda n: int(n * train_fraction), rows, ["cat_id"])


def ref_groupby_time(events, valid_from):
    """groupby_aggregate under a time split: train rows are those before the cut."""
    train = events[events.ts.notna() & (events.ts < valid_from)]
    grouped = train.groupby("user_id", dropna=True)
    stats = pd.DataFrame({"user_id_price_mean": grouped.price.mean(),
                          "user_id_item_id_count": grouped.item_id.count()}).reset_index()
    out = events.merge(stats, on="user_id", how="left", sort=False)
    out.loc[out.user_id.isna(), stats.columns[1:]] = np.nan
    out["user_id_item_id_count"] = out["user_id_item_id_count"].fillna(0).astype(int)
    return records(out)


def ref_sql(events):
    """The sql step's expressions in pandas: NULL in, NULL out (SQL), booleans as 0/1."""
    out = events.copy()
    ts = out.ts
    out["per_time"] = out.price / np.maximum(ts, 1)  # greatest() skips NULL; NaN ts -> see below
    out.loc[ts.isna(), "per_time"] = out.price[ts.isna()]  # greatest(NULL, 1) = 1 in DuckDB
    out["band"] = np.where(out.price > 5, "hi", "lo")  # NULL > 5 is not true: ELSE
    out["mixed"] = out.price.fillna(0) * 2 + out.user_id
    out["cheap"] = (out.price < 3).astype(float).where(out.price.notna())
    out["tens"] = np.floor(ts / 10)
    out["ln_price"] = np.log(out.price + 1)
    result = records(out)
    for row in result:
        for column in ("cheap", "tens"):
            if row[column] is not None:
                row[column] = int(row[column])
    return result


def check_negative_history(rows, failures):
    """Alignment and no positive drawn, on aiok's own output."""
    for r, row in enumerate(rows):
        history, negatives = row.get("hist_item_id"), row.get("neg_hist_item_id")
        if history is None:
            if negatives is not None:
                failures.append(f"negative history: row {r} has none but negatives {negatives}")
            continue
        if negatives is None or len(negatives) != len(history) or \
                len(row["neg_hist_cat_id"]) != len(history):
            failures.append(f"negative history: row {r}: {history} vs {negatives}")
            return
        if any(n == h for n, h in zip(negatives, history)):
            failures.append(f"negative history: row {r} draws a positive: {history} {negatives}")
            return


def check_typed_input(directory, failures):
    """The prepared schema keeps the types the input was read with: hex ids stay hex (an
    all-digit one included), and a --schema types the input too (a zip code with a leading
    zero stays text)."""
    rng = random.Random(5)
    path = os.path.join(directory, "typed.csv")
    raw = []
    with open(path, "w") as f:
        f.write("label,I1,C1,zip\n")
        for r in range(120):
            c1 = "12345678" if r % 7 == 0 else f"{rng.getrandbits(32):08x}"
            row = (rng.randint(0, 1), rng.randint(0, 9), c1, f"0{rng.randint(1000, 9999)}")
            raw.append(row)
            f.write(",".join(map(str, row)) + "\n")
    pipeline = os.path.join(directory, "typed.json")
    with open(pipeline, "w") as f:
        json.dump({"prepare": [{"sql": {"output": "i2", "expr": "I1 * 2"}}], "steps": []}, f)
    out = os.path.join(directory, "typed_ds")
    done = subprocess.run([AIOK, "etl", "--input", path, "--pipeline", pipeline, "--out", out,
                           "-q"], capture_output=True, text=True)
    if done.returncode != 0:
        failures.append(f"typed input: aiok failed: {done.stderr.strip()}")
        return
    with open(os.path.join(out, "schema.json")) as f:
        fields = {x["name"]: x for x in json.load(f)["input_schema"]["fields"]}
    if fields["C1"].get("encoding") != "hex" or fields["C1"]["type"] != "uint64":
        failures.append(f"typed input: the prepared schema's C1 is {fields['C1']}, expected "
                        "uint64 with encoding hex (as the input was read)")
    schema = os.path.join(directory, "typed_schema.yaml")
    with open(schema, "w") as f:
        f.write("fields:\n"
                "  - {name: label, role: label, type: int64}\n"
                "  - {name: I1, role: dense, type: int64}\n"
                "  - {name: C1, role: categorical, type: uint64, encoding: hex}\n"
                "  - {name: zip, role: categorical, type: string}\n"
                "  - {name: i2, role: dense, type: int64}\n")
    prepared = os.path.join(directory, "typed.jsonl")
    done = subprocess.run([AIOK, "etl", "--input", path, "--pipeline", pipeline, "--schema",
                           schema, "--prepare-only", prepared, "-q"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        failures.append(f"typed input with --schema: aiok failed: {done.stderr.strip()}")
        return
    with open(prepared) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for r, (row, want) in enumerate(zip(rows, raw)):
        if row["zip"] != want[3] or row["C1"] != int(want[2], 16):
            failures.append(f"typed input with --schema: row {r}: zip {row['zip']!r}, C1 "
                            f"{row['C1']} from {want[3]!r}, {want[2]!r}")
            return
    if len(rows) != len(raw):
        failures.append(f"typed input with --schema: {len(rows)} rows of {len(raw)}")


def check_time_train_rows(directory, failures):
    """Under a time split by fractions and --on-error skip, the rows groupby_aggregate takes as
    train are the ETL's train split: a statistic per row id counts 1 exactly on the rows the
    ETL puts in train (by the cut dates it wrote into schema.json, and by its train row count).
    The rows without a label, which the ETL rejects, lie far outside the other rows' times, so
    a time range that counted them would cut elsewhere; the cut must be the one the ETL makes
    without prepare steps."""
    from datetime import datetime, timezone
    rng = random.Random(3)
    path = os.path.join(directory, "timed.csv")
    with open(path, "w") as f:
        f.write("rid,ts,x,label\n")
        for r in range(300):
            ts, label = 1_000_000 + rng.randint(0, 1000), str(rng.randint(0, 1))
            if r in (7, 8):  # rejected by the ETL: no label
                ts, label = 1_000_000 + (-5000 if r == 7 else 9000), ""
            f.write(f"{r},{ts},{rng.random():.3f},{label}\n")
    pipeline = os.path.join(directory, "timed.json")
    with open(pipeline, "w") as f:
        json.dump({"prepare": [{"groupby_aggregate": {"by": ["rid"],
                                                      "aggs": {"ts": ["count"]}}}],
                   "steps": []}, f)
    split = ["--split", "time:ts:0.6,0.2", "--on-error", "skip", "-q"]
    out = os.path.join(directory, "timed_ds")
    plain = os.path.join(directory, "timed_plain")
    for target, extra in ((out, ["--pipeline", pipeline]), (plain, [])):
        done = subprocess.run([AIOK, "etl", "--input", path, "--out", target, *extra, *split],
                              capture_output=True, text=True)
        if done.returncode != 0:
            failures.append(f"time train rows: aiok failed: {done.stderr.strip()}")
            return
    with open(os.path.join(out, "schema.json")) as f:
        schema = json.load(f)
    with open(os.path.join(plain, "schema.json")) as f:
        plain_rule = json.load(f)["split_rule"]
    if schema["split_rule"] != plain_rule:
        failures.append(f"time train rows: the prepared dataset cuts at {schema['split_rule']}, "
                        f"the ETL alone at {plain_rule}")
    valid_from = datetime.strptime(schema["split_rule"].split(":", 3)[3].split(",")[0],
                                   "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    # The prepared table the dataset was made from, as JSON lines (no Parquet reader here).
    rows = os.path.join(directory, "timed.jsonl")
    done = subprocess.run([AIOK, "etl", "--input", path, "--pipeline", pipeline, "--prepare-only",
                           rows, *split], capture_output=True, text=True)
    if done.returncode != 0:
        failures.append(f"time train rows: --prepare-only failed: {done.stderr.strip()}")
        return
    table = pd.read_json(rows, lines=True)
    etl_train = (table.ts < valid_from) & table.label.notna()
    prepare_train = table.rid_ts_count == 1
    if (etl_train != prepare_train).any() or \
            int(prepare_train.sum()) != schema["splits"]["train"]["rows"]:
        failures.append(f"time train rows: {int(prepare_train.sum())} rows train for the "
                        f"prepare step, {int(etl_train.sum())} before the ETL's cut, "
                        f"{schema['splits']['train']['rows']} in the ETL's train split; rows "
                        f"that differ: {list(table.rid[etl_train != prepare_train])[:10]}")


def check_time_formats(directory, failures):
    """Times are read as the time split and datetime_parts read them: an Avazu hour
    (YYMMDDHH) with format yymmddhh is an hour, not a number (14102123 -> 14102200 is 3600 s,
    not 77), a bad one is named; a text time goes through aiok's timestamp parser (fractions
    of a second dropped, 'T' and 'Z' accepted, epoch integers)."""
    from datetime import datetime, timezone

    def hour_seconds(v):
        yy, mm, dd, hh = v // 1000000, v // 10000 % 100, v // 100 % 100, v % 100
        return datetime(2000 + yy, mm, dd, hh, tzinfo=timezone.utc).timestamp()

    hours = [14102122, 14102123, 14102200, 14102301, 14103123, 14110100, 14123123, 15010100]
    path = os.path.join(directory, "avazu.csv")
    rows = []
    with open(path, "w") as f:
        f.write("user_id,hour,label\n")
        for r, h in enumerate(hours * 2):
            rows.append((r % 3, h))
            f.write(f"{r % 3},{h},{r % 2}\n")
    lag = [{"difference_lag": {"user": "user_id", "time": "hour", "format": "yymmddhh",
                               "output": "lag"}}]
    try:
        got = run_prepare_on(directory, "avazu_lag", path, lag)
        order = {}
        for r, (user, h) in enumerate(rows):
            order.setdefault(user, []).append((hour_seconds(h), r))
        want = [None] * len(rows)
        for events in order.values():
            events.sort()
            for (t0, _), (t1, r) in zip(events, events[1:]):
                want[r] = t1 - t0
        compare("difference_lag yymmddhh", [{"lag": g["lag"]} for g in got],
                [{"lag": w} for w in want], failures)
    except RuntimeError as e:
        failures.append(str(e))
    with open(os.path.join(directory, "avazu_bad.csv"), "w") as f:
        f.write("user_id,hour,label\n1,14102123,0\n1,14102125,1\n")
    expect_error(directory, "avazu_bad_hour", lag,
                 ["prepare step 1 (difference_lag)", "avazu_bad.csv:3", "YYMMDDHH", "'14102125'"],
                 failures, csv=os.path.join(directory, "avazu_bad.csv"))

    texts = ["2014-10-21 07:00:00.5", "2014-10-21T07:30:00Z", "1413878400", "2014-10-21 09:15",
             "2014-10-22"]
    seconds = [1413874800, 1413876600, 1413878400, 1413882900, 1413936000]
    # "soon" makes the column text (and is rejected under skip), so the step parses the rest.
    path = os.path.join(directory, "text_times.csv")
    with open(path, "w") as f:
        f.write("user_id,ts,label\n7,soon,1\n")
        for text in texts:
            f.write(f"7,{text},0\n")
    try:
        got = run_prepare_on(directory, "text_lag", path,
                             [{"difference_lag": {"user": "user_id", "time": "ts",
                                                  "output": "lag"}}], ["--on-error", "skip"])
        want = [None] + [b - a for a, b in zip(seconds, seconds[1:])]
        compare("difference_lag text times", [{"lag": g["lag"]} for g in got],
                [{"lag": w} for w in want], failures)
    except RuntimeError as e:
        failures.append(str(e))


def check_long_history(directory, failures):
    """One user with 20k events (every other one a click) under a 32 MiB budget: a history
    must cost its 'max' latest events per row, not every earlier one (a frame over all earlier
    events held ~200M list entries here and ran out of memory); equal to plain Python."""
    rng = random.Random(2)
    path = os.path.join(directory, "long_user.csv")
    events = [(rng.randint(1, 5000), r * 10 + rng.randint(0, 15), r % 2) for r in range(20000)]
    with open(path, "w") as f:
        f.write("user_id,item_id,ts,label\n")
        for item, ts, label in events:
            f.write(f"1,{item},{ts},{label}\n")
    for name, label in (("long_history", None), ("long_history_clicks", "label")):
        step = {"user": "user_id", "time": "ts", "items": ["item_id"], "max": 5}
        if label:
            step["label"] = label
        try:
            got = run_prepare_on(directory, name, path, [{"collapse_history": step}],
                                 ["--memory-mb", "32"])
        except RuntimeError as e:
            failures.append(str(e))
            continue
        want, seen = [None] * len(events), []
        for r in sorted(range(len(events)), key=lambda r: (events[r][1], r)):
            want[r] = seen[-5:]
            if not label or events[r][2] == 1:
                seen.append(events[r][0])
        bad = [r for r, (g, w) in enumerate(zip(got, want)) if g["hist_item_id"] != w]
        if len(got) != len(want) or bad:
            failures.append(f"{name}: {len(bad)} histories differ, the first at row "
                            f"{bad[:1]}")


def run_prepare_on(directory, name, csv, steps, extra=()):
    pipeline = os.path.join(directory, name + ".json")
    with open(pipeline, "w") as f:
        json.dump({"prepare": steps, "steps": []}, f)
    out = os.path.join(directory, name + ".jsonl")
    done = subprocess.run([AIOK, "etl", "--input", csv, "--pipeline", pipeline, "--prepare-only",
                           out, "-q", *extra], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: aiok failed: {done.stderr.strip()}")
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


# ---- comparison ---------------------------------------------------------------------------

def compare(name, got, want, failures):
    if len(got) != len(want):
        failures.append(f"{name}: {len(got)} rows from aiok, {len(want)} from the reference")
        return
    for r, (g, w) in enumerate(zip(got, want)):
        if sorted(g) != sorted(w):
            failures.append(f"{name}: row {r}: columns {sorted(g)} vs {sorted(w)}")
            return
        for column in w:
            if not same(g[column], w[column]):
                failures.append(f"{name}: row {r}, {column}: aiok {g[column]!r}, "
                                f"reference {w[column]!r}")
                return


def expect_error(directory, name, steps, needles, failures, extra=(), csv=None):
    pipeline = os.path.join(directory, name + ".json")
    with open(pipeline, "w") as f:
        json.dump({"prepare": steps, "steps": []}, f)
    cmd = [AIOK, "etl", "--input", csv or os.path.join(directory, "events.csv"), "--pipeline",
           pipeline, "--prepare-only", os.path.join(directory, name + ".jsonl"), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode == 0:
        failures.append(f"{name}: expected a failure, aiok succeeded")
        return
    for needle in needles:
        if needle not in done.stderr:
            failures.append(f"{name}: the message lacks '{needle}': {done.stderr.strip()}")


def main():
    failures = []
    passed = 0
    with tempfile.TemporaryDirectory() as directory:
        events, items = make_data(directory)
        cases = [
            ("join_left", [{"join": {"table": "items.csv", "on": ["item_id"]}}], [],
             lambda: ref_join(events, items, "left")),
            ("join_inner", [{"join": {"table": "items.csv", "on": ["item_id"], "how": "inner"}}],
             [], lambda: ref_join(events, items, "inner")),
            # A side table above the memory budget is joined partition by partition; the rows
            # must not change.
            ("join_partitioned", [{"join": {"table": "items_big.csv", "on": ["item_id"]}}],
             ["--memory-mb", "1"], lambda: ref_join(events, items, "left")),
            ("filter", [{"filter": {"where": "price > 2 AND user_id <> 3"}}], [],
             lambda: ref_filter(events)),
            # A trailing line comment must not swallow the SQL the condition is put into.
            ("filter_comment", [{"filter": {"where": "price > 2 AND user_id <> 3 -- cheap"}}],
             [], lambda: ref_filter(events)),
            ("dedupe", [{"dedupe": {"columns": ["user_id", "item_id"]}}], [],
             lambda: ref_dedupe(events)),
            ("sample_fraction", [{"sample": {"fraction": 0.4, "seed": 7}}], [],
             lambda: ref_sample_fraction(events, 0.4, 7)),
            ("sample_negatives", [{"sample": {"negative_rate": 0.3, "seed": 3}}], [],
             lambda: ref_sample_negatives(events, 0.3, 3)),
            ("sort", [{"sort": {"by": ["ts", "user_id"]}}], [], lambda: ref_sort(events)),
            ("difference_lag",
             [{"difference_lag": {"user": "user_id", "time": "ts", "output": "lag"}}], [],
             lambda: ref_lag(events)),
            ("collapse_history",
             [{"join": {"table": "items.csv", "on": ["item_id"], "columns": ["cat_id"]}},
              {"collapse_history": {"user": "user_id", "time": "ts",
                                    "items": ["item_id", "cat_id"], "max": 3,
                                    "label": "label"}}], [],
             lambda: ref_history(events, items, 3, 0, True)),
            ("collapse_history_min",
             [{"join": {"table": "items.csv", "on": ["item_id"], "columns": ["cat_id"]}},
              {"collapse_history": {"user": "user_id", "time": "ts",
                                    "items": ["item_id", "cat_id"], "max": 4, "min": 2}}], [],
             lambda: ref_history(events, items, 4, 2, False)),
            ("groupby_aggregate",
             [{"groupby_aggregate": {"by": ["user_id"],
                                     "aggs": {"item_id": ["count", "nunique"],
                                              "price": ["sum", "mean", "min"],
                                              "ts": ["max"]}}}],
             ["--split", "fractions:0.6,0.2"], lambda: ref_groupby(events, 0.6)),
            ("negative_sample_popularity",
             [{"negative_sample": {"k": 2, "item": "item_id", "seed": 5}}], [],
             lambda: ref_negatives(events, 2, "popularity", 5)),
            ("negative_sample_uniform",
             [{"negative_sample": {"k": 1, "item": "item_id", "by": "uniform", "seed": 9}}], [],
             lambda: ref_negatives(events, 1, "uniform", 9)),
            ("negative_history",
             [{"join": {"table": "items.csv", "on": ["item_id"], "columns": ["cat_id"]}},
              {"collapse_history": {"user": "user_id", "time": "ts",
                                    "items": ["item_id", "cat_id"], "max": 4,
                                    "label": "label"}},
              {"negative_sample": {"k": 2, "item": "item_id", "side": ["cat_id"], "seed": 4,
                                   "history": ["hist_item_id", "hist_cat_id"]}}],
             ["--split", "fractions:0.7,0.15"],
             lambda: ref_negative_history(events, items, 2, "popularity", 4, 0.7)),
            ("negative_history_only",
             [{"join": {"table": "items.csv", "on": ["item_id"], "columns": ["cat_id"]}},
              {"collapse_history": {"user": "user_id", "time": "ts",
                                    "items": ["item_id", "cat_id"], "max": 4,
                                    "label": "label"}},
              {"negative_sample": {"k": 0, "item": "item_id", "side": ["cat_id"], "seed": 8,
                                   "by": "uniform",
                                   "history": ["hist_item_id", "hist_cat_id"]}}],
             ["--split", "fractions:0.6,0.2"],
             lambda: ref_negative_history(events, items, 0, "uniform", 8, 0.6)),
            # A time split: train rows are those before the cut (a date, or a fraction of the
            # time range: ts spans 0..150 s, so 0.6 cuts at 90 s); missing times never train.
            ("groupby_time_dates",
             [{"groupby_aggregate": {"by": ["user_id"],
                                     "aggs": {"price": ["mean"], "item_id": ["count"]}}}],
             ["--split", "time:ts:1970-01-01 00:01:10,1970-01-01 00:02:00"],
             lambda: ref_groupby_time(events, 70)),
            ("groupby_time_fractions",
             [{"groupby_aggregate": {"by": ["user_id"],
                                     "aggs": {"price": ["mean"], "item_id": ["count"]}}}],
             ["--split", "time:ts:0.6,0.2"],
             lambda: ref_groupby_time(events, events.ts.min() + math.ceil(
                 0.6 * (events.ts.max() - events.ts.min())))),
            ("sql",
             [{"sql": {"output": "per_time", "expr": "price / greatest(ts, 1)"}},
              {"sql": {"output": "band", "expr": "CASE WHEN price > 5 THEN 'hi' ELSE 'lo' END"}},
              {"sql": {"output": "mixed", "expr": "coalesce(price, 0) * 2 + user_id"}},
              {"sql": {"output": "cheap", "expr": "price < 3"}},
              {"sql": {"output": "tens", "expr": "floor(ts / 10)::INTEGER"}},
              {"sql": {"output": "ln_price", "expr": "ln(price + 1)"}}], [],
             lambda: ref_sql(events)),
        ]
        for name, steps, extra, reference in cases:
            before = len(failures)
            try:
                compare(name, run_prepare(directory, name, steps, extra), reference(), failures)
            except RuntimeError as e:
                failures.append(str(e))
            passed += len(failures) == before

        # The negative history on its own terms: aligned with the history, never the positive
        # at its position, and the same draws for the same seed.
        before = len(failures)
        history_steps = cases[[c[0] for c in cases].index("negative_history")][1]
        try:
            first = run_prepare(directory, "nh_a", history_steps, ["--split", "fractions:0.7,0.15"])
            again = run_prepare(directory, "nh_b", history_steps, ["--split", "fractions:0.7,0.15"])
            check_negative_history(first, failures)
            if first != again:
                failures.append("negative history: two runs with one seed differ")
            if not any(row.get("neg_hist_item_id") for row in first):
                failures.append("negative history: no row has one")
        except RuntimeError as e:
            failures.append(str(e))
        passed += len(failures) == before

        # -v says which join strategy ran.
        before = len(failures)
        for table, budget, strategy in (("items.csv", "1", "broadcast hash join"),
                                         ("items_big.csv", "1", "partitioned hash join, 3 "
                                          "partitions")):
            pipeline = os.path.join(directory, "strategy.json")
            with open(pipeline, "w") as f:
                json.dump({"prepare": [{"join": {"table": table, "on": ["item_id"]}}],
                           "steps": []}, f)
            done = subprocess.run([AIOK, "etl", "--input", os.path.join(directory, "events.csv"),
                                   "--pipeline", pipeline, "--prepare-only",
                                   os.path.join(directory, "strategy.jsonl"), "--memory-mb",
                                   budget, "-v"], capture_output=True, text=True)
            if done.returncode != 0 or strategy not in done.stderr:
                failures.append(f"join strategy: expected '{strategy}' with {table}: "
                                f"{done.stderr.strip()[-400:]}")
        passed += len(failures) == before

        # Bad input: each names the step, the operator and the column (and the line).
        errors = [
            ("bad_expression", [{"filter": {"where": "pricee > 0"}}],
             ["prepare step 1 (filter)", "pricee"]),
            ("join_key_missing",
             [{"sort": {"by": ["ts"]}}, {"join": {"table": "items.csv", "on": ["user_id"]}}],
             ["prepare step 2 (join)", "join key 'user_id' is missing from the side table"]),
            ("missing_column", [{"sort": {"by": ["tss"]}}],
             ["prepare step 1 (sort)", "no column 'tss'", "did you mean 'ts'"]),
            ("groupby_before_filter",
             [{"groupby_aggregate": {"by": ["user_id"], "aggs": {"price": ["mean"]}}},
              {"filter": {"where": "price > 0"}}],
             ["prepare step 1 (groupby_aggregate)", "step 2 (filter)"]),
            ("sql_bad_column", [{"sql": {"output": "o", "expr": "pricee * 2"}}],
             ["prepare step 1 (sql)", "pricee * 2", "Referenced column \"pricee\" not found"]),
            ("sql_aggregate", [{"sql": {"output": "o", "expr": "price - avg(price)"}}],
             ["prepare step 1 (sql)", "price - avg(price)", "avg() is an aggregate"]),
            ("sql_window",
             [{"sql": {"output": "o", "expr": "price - avg(price) OVER (PARTITION BY user_id)"}}],
             ["prepare step 1 (sql)", "window function"]),
            ("sql_other_table", [{"sql": {"output": "o", "expr": "(SELECT max(price) FROM t0)"}}],
             ["prepare step 1 (sql)", "subquery"]),
            ("sql_random", [{"sql": {"output": "o", "expr": "price * random()"}}],
             ["prepare step 1 (sql)", "random() gives another value each time it runs"]),
            ("sql_label", [{"sql": {"output": "o", "expr": "label + 1"}}],
             ["prepare step 1 (sql)", "reads 'label', the label"]),
            ("sql_hidden", [{"sql": {"output": "o", "expr": "__row * 2"}}],
             ["prepare step 1 (sql)", "__row is a column of the ETL's table only"]),
            ("sql_two", [{"sql": {"output": "o", "expr": "price, user_id"}}],
             ["prepare step 1 (sql)", "must be one SQL expression"]),
            ("sql_statement", [{"sql": {"output": "o", "expr": "price; DROP TABLE t0"}}],
             ["prepare step 1 (sql)", "\"price; DROP TABLE t0\" does not parse"]),
            ("sql_runtime", [{"sql": {"output": "o", "expr": "CAST('x' || user_id AS INTEGER)"}}],
             ["prepare step 1 (sql)", "the expression \"CAST('x' || user_id AS INTEGER)\"",
              "Conversion Error"]),
            ("negative_sample_before_filter",
             [{"negative_sample": {"item": "item_id"}}, {"filter": {"where": "price > 0"}}],
             ["prepare step 1 (negative_sample)", "step 2 (filter)"]),
            ("time_split_not_a_time",
             [{"groupby_aggregate": {"by": ["user_id"], "aggs": {"price": ["mean"]}}}],
             ["prepare step 1 (groupby_aggregate)", "the field price holds DOUBLE"]),
            ("filter_statements",
             [{"filter": {"where": "true)) ORDER BY __row; COPY t0 TO '" + os.path.join(
                 directory, "leaked.csv") + "'; SELECT 1 FROM (SELECT 1 AS __row WHERE (true"}}],
             ["prepare step 1 (filter)", "does not parse"]),
            ("filter_random", [{"filter": {"where": "random() < 0.5"}}],
             ["prepare step 1 (filter)", "random() gives another value each time it runs"]),
            ("filter_hidden", [{"filter": {"where": "__row < 100"}}],
             ["prepare step 1 (filter)", "__row is a column of the ETL's table only"]),
            ("filter_train_rows", [{"filter": {"where": "aiok_is_train(user_id, 400)"}}],
             ["prepare step 1 (filter)", "aiok_is_train() exists only while the ETL runs"]),
            ("filter_subquery",
             [{"filter": {"where": "price > (SELECT avg(price) FROM t0)"}}],
             ["prepare step 1 (filter)", "subquery"]),
            ("filter_not_condition", [{"filter": {"where": "price + 1"}}],
             ["prepare step 1 (filter)", "gives DOUBLE; a filter needs a condition"]),
            ("groupby_label",
             [{"groupby_aggregate": {"by": ["user_id"], "aggs": {"label": ["mean"]}}}],
             ["prepare step 1 (groupby_aggregate)", "aggs: 'label' is the label or weight",
              "target_encode"]),
            ("groupby_label_count",
             [{"groupby_aggregate": {"by": ["user_id"], "aggs": {"label": ["count"]}}}],
             ["prepare step 1 (groupby_aggregate)", "aggs: 'label' is the label or weight"]),
            ("groupby_by_label",
             [{"groupby_aggregate": {"by": ["label"], "aggs": {"price": ["mean"]}}}],
             ["prepare step 1 (groupby_aggregate)", "by: 'label' is the label or weight"]),
            ("groupby_weight",
             [{"sample": {"negative_rate": 0.5}},
              {"groupby_aggregate": {"by": ["user_id"], "aggs": {"sample_weight": ["sum"]}}}],
             ["prepare step 2 (groupby_aggregate)", "'sample_weight' is the label or weight"]),
            # Every step's new field must be new (one check in the runner for all steps).
            ("lag_output_exists",
             [{"difference_lag": {"user": "user_id", "time": "ts", "output": "price"}}],
             ["prepare step 1 (difference_lag)", "the output field 'price' is already a column"]),
            ("sql_output_exists", [{"sql": {"output": "price", "expr": "price * 2"}}],
             ["prepare step 1 (sql)", "the output field 'price' is already a column"]),
            ("weight_output_exists", [{"sample": {"negative_rate": 0.5, "weight": "price"}}],
             ["prepare step 1 (sample)", "the output field 'price' is already a column"]),
            ("unknown_aggregate",
             [{"groupby_aggregate": {"by": ["user_id"], "aggs": {"price": ["avg"]}}}],
             ["prepare step 1 (groupby_aggregate)", "'avg' for column price must be one of"]),
        ]
        for name, steps, needles in errors:
            before = len(failures)
            extra = ["--split", "time:price:0.5,0.2"] if name == "time_split_not_a_time" else []
            expect_error(directory, name, steps, needles, failures, extra=extra)
            passed += len(failures) == before

        if os.path.exists(os.path.join(directory, "leaked.csv")):
            failures.append("filter_statements: the filter ran a second statement")

        # A join key whose name holds a quote: the duplicate-key message names it.
        before = len(failures)
        with open(os.path.join(directory, "quoted.csv"), "w") as f:
            f.write("it'em,label\n1,0\n2,1\n")
        with open(os.path.join(directory, "quoted_side.csv"), "w") as f:
            f.write("it'em,v\n1,a\n2,b\n2,c\n")
        expect_error(directory, "join_quoted_key",
                     [{"join": {"table": "quoted_side.csv", "on": ["it'em"]}}],
                     ["prepare step 1 (join)", "more than one row for the key it'em=2"], failures,
                     csv=os.path.join(directory, "quoted.csv"))
        passed += len(failures) == before

        before = len(failures)
        check_typed_input(directory, failures)
        passed += len(failures) == before

        # An unparseable time (inside the inference sample, so the column reads as text): the
        # step fails naming the column and the line; under --on-error skip the line is rejected.
        bad_times = os.path.join(directory, "bad_times.csv")
        with open(os.path.join(directory, "events.csv")) as f:
            lines = f.read().splitlines()
        fields = lines[5].split(",")
        fields[2] = "soon"
        lines[5] = ",".join(fields)
        with open(bad_times, "w") as f:
            f.write("\n".join(lines) + "\n")
        lag = [{"difference_lag": {"user": "user_id", "time": "ts"}}]
        before = len(failures)
        expect_error(directory, "bad_time", lag,
                     ["prepare step 1 (difference_lag)", "time column 'ts'", "bad_times.csv:6",
                      "'soon'"], failures, csv=bad_times)
        pipeline = os.path.join(directory, "bad_time.json")
        out = os.path.join(directory, "bad_time_ds")
        done = subprocess.run([AIOK, "etl", "--input", bad_times, "--pipeline", pipeline, "--out",
                               out, "--on-error", "skip", "-q"], capture_output=True, text=True)
        if done.returncode != 0:
            failures.append(f"bad_time skip: aiok failed: {done.stderr.strip()}")
        else:
            with open(os.path.join(out, "rejects.tsv")) as f:
                rejects = f.read().splitlines()
            with open(os.path.join(out, "schema.json")) as f:
                schema = json.load(f)
            rows = sum(s["rows"] for s in schema["splits"].values())
            if len(rejects) != 2 or not rejects[1].startswith("5\t6\t") or rows != 399:
                failures.append(f"bad_time skip: rejects {rejects}, {rows} rows (expected "
                                "record 5, line 6 rejected and 399 rows)")
            elif schema.get("rejected_lines") != 1:
                failures.append(f"bad_time skip: schema.json rejected_lines "
                                f"{schema.get('rejected_lines')}")
        passed += len(failures) == before
        # Dropping that row after groupby_aggregate took its train rows by position would
        # shift them: refused, naming both steps.
        before = len(failures)
        expect_error(directory, "bad_time_after_groupby",
                     [{"groupby_aggregate": {"by": ["user_id"], "aggs": {"price": ["mean"]}}},
                      {"difference_lag": {"user": "user_id", "time": "ts"}}],
                     ["prepare step 2 (difference_lag)", "bad_times.csv:6", "'soon'",
                      "after prepare step 1 (groupby_aggregate) took its train rows"], failures,
                     extra=["--on-error", "skip"], csv=bad_times)
        passed += len(failures) == before

        # A row expression that fails on some rows' values (text that is no number in a
        # column read as text): the step fails naming the line and DuckDB's reason; under
        # --on-error skip exactly those rows are rejected, in sql and in filter alike.
        bad_prices = os.path.join(directory, "bad_prices.csv")
        with open(os.path.join(directory, "events.csv")) as f:
            lines = f.read().splitlines()
        for line in (5, 9):  # records 5 and 9
            fields = lines[line].split(",")
            fields[3] = "cheap"
            lines[line] = ",".join(fields)
        with open(bad_prices, "w") as f:
            f.write("\n".join(lines) + "\n")
        price_steps = {
            "sql": [{"sql": {"output": "double_price", "expr": "CAST(price AS DOUBLE) * 2"}}],
            "filter": [{"filter": {"where": "coalesce(CAST(price AS DOUBLE), 0) > 2"}}],
        }
        for op, steps in price_steps.items():
            before = len(failures)
            expect_error(directory, f"bad_price_{op}", steps,
                         [f"prepare step 1 ({op})", "bad_prices.csv:6: record 5",
                          "fails on this row", "'cheap'"], failures, csv=bad_prices)
            out = os.path.join(directory, f"bad_price_{op}.jsonl")
            done = subprocess.run([AIOK, "etl", "--input", bad_prices, "--pipeline",
                                   os.path.join(directory, f"bad_price_{op}.json"),
                                   "--prepare-only", out, "--on-error", "skip", "-q"],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                failures.append(f"bad_price_{op} skip: aiok failed: {done.stderr.strip()}")
            else:
                with open(out) as f:
                    kept = [json.loads(line) for line in f]
                prices = [row["price"] for row in kept]
                expected = 398 if op == "sql" else sum(
                    1 for line in lines[1:] if line.split(",")[3] not in ("", "cheap")
                    and float(line.split(",")[3]) > 2)
                if "cheap" in prices or len(kept) != expected:
                    failures.append(f"bad_price_{op} skip: {len(kept)} rows kept (expected "
                                    f"{expected}, none with 'cheap')")
            passed += len(failures) == before

        before = len(failures)
        check_time_train_rows(directory, failures)
        passed += len(failures) == before

        before = len(failures)
        check_time_formats(directory, failures)
        passed += len(failures) == before

        before = len(failures)
        check_long_history(directory, failures)
        passed += len(failures) == before

    for failure in failures:
        print("FAIL", failure)
    print(f"prepare_vs_pandas: {passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
