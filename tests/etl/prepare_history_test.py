#!/usr/bin/python3
"""collapse_history on `aiok datagen sequences` data, through the real CLI (issue 11/12).

Usage: prepare_history_test.py PATH/TO/aiok

1. Equality with the generator: the generator writes each row's history (the user's clicked
   items and their categories before the impression, oldest first, at most --max-history).
   The log without those columns, through `prepare: [collapse_history {label: label}]`,
   must give the same lists for every row.
2. No leakage: every event gets a unique id; each row's history of ids may hold only the same
   user's events that come strictly before it (earlier time, or the same time and earlier in
   the file), never the row itself or a later event — checked for every row, and on a copy of
   the log whose rows are shuffled and put back in order by a `sort` step.

Exits 1 on a mismatch; the last line is `prepare_history_test: N passed, M failed`.
"""

import csv
import json
import os
import random
import subprocess
import sys
import tempfile

AIOK = sys.argv[1]


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()}")


def prepare(directory, name, events, steps):
    pipeline = os.path.join(directory, name + ".json")
    with open(pipeline, "w") as f:
        json.dump({"prepare": steps, "steps": []}, f)
    out = os.path.join(directory, name + ".jsonl")
    run([AIOK, "etl", "--input", events, "--pipeline", pipeline, "--prepare-only", out, "-q"])
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_log(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def check_no_leakage(name, rows, failures):
    """rows: prepared rows with user_id, timestamp, event_id, position (file order) and
    hist_event_id."""
    by_id = {row["event_id"]: (i, row) for i, row in enumerate(rows)}
    for i, row in enumerate(rows):
        own = (row["timestamp"], i)
        history = row["hist_event_id"] or []
        if row["event_id"] in history:
            failures.append(f"{name}: row {i} has its own event in its history")
            return
        for event in history:
            j, other = by_id[event]
            if other["user_id"] != row["user_id"] or (other["timestamp"], j) >= own:
                failures.append(f"{name}: row {i} (user {row['user_id']}, time "
                                f"{row['timestamp']}) holds event {event} (user "
                                f"{other['user_id']}, time {other['timestamp']}, row {j})")
                return
            if other["label"] != 1:
                failures.append(f"{name}: row {i} holds the unclicked event {event}")
                return


def main():
    failures = []
    passed = 0
    with tempfile.TemporaryDirectory() as directory:
        data = os.path.join(directory, "data")
        run([AIOK, "datagen", "sequences", "--users", "300", "--out", data, "-q"])
        with open(os.path.join(data, "events.csv")) as f:
            reader = csv.reader(f)
            header = next(reader)
            log = list(reader)
        with open(os.path.join(data, "datagen.json")) as f:
            max_history = json.load(f)["options"]["max-history"]
        col = {name: i for i, name in enumerate(header)}
        base = ["user_id", "item_id", "cat_id", "timestamp", "label"]
        stripped = [[row[col[name]] for name in base] + [str(e)] for e, row in enumerate(log)]
        events = os.path.join(directory, "events_nohist.csv")
        write_log(events, base + ["event_id"], stripped)
        history = {"collapse_history": {"user": "user_id", "time": "timestamp",
                                        "items": ["item_id", "cat_id", "event_id"],
                                        "max": max_history, "label": "label"}}

        # 1. The generator's own histories.
        before = len(failures)
        rows = prepare(directory, "histories", events, [history])
        if len(rows) != len(log):
            failures.append(f"generator: {len(rows)} prepared rows, {len(log)} in the log")
        else:
            for i, (row, original) in enumerate(zip(rows, log)):
                for mine, theirs in (("hist_item_id", "hist_items"), ("hist_cat_id", "hist_cats")):
                    want = [int(v) for v in original[col[theirs]].split("|") if v]
                    if row[mine] != want:
                        failures.append(f"generator: row {i}: {mine} {row[mine]}, the "
                                        f"generator's {theirs} {want}")
                        break
                if len(failures) > before:
                    break
        passed += len(failures) == before
        longest = max(len(row["hist_item_id"]) for row in rows)
        if longest == 0:
            failures.append("generator: every history is empty; the check proves nothing")

        # 2. No history holds its own or a later event, in file order...
        before = len(failures)
        check_no_leakage("file order", rows, failures)
        passed += len(failures) == before

        # ... and after a shuffle put back in time order by a sort step (ties by the shuffled
        # order, which the histories must then follow).
        before = len(failures)
        shuffled = list(stripped)
        random.Random(5).shuffle(shuffled)
        events_shuffled = os.path.join(directory, "events_shuffled.csv")
        write_log(events_shuffled, base + ["event_id"], shuffled)
        rows = prepare(directory, "shuffled", events_shuffled,
                       [{"sort": {"by": ["timestamp"]}}, history])
        times = [row["timestamp"] for row in rows]
        if times != sorted(times) or len(rows) != len(log):
            failures.append("shuffled: the sort step did not give time order")
        check_no_leakage("shuffled", rows, failures)
        passed += len(failures) == before
        print(f"{len(log)} rows, longest history {longest}")

    for failure in failures:
        print("FAIL", failure)
    print(f"prepare_history_test: {passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
