#!/usr/bin/python3
"""aiok tune against Optuna on the same machine, in the same run.

Single objective (Branin, Hartmann6): best value after each trial, 5 seeds, 100 trials; reports
after how many trials aiok's median best-so-far reaches Optuna TPE's median best at 100.
Two objectives (ZDT1, ZDT2, 30 variables): hypervolume at 100 trials (reference (1.1, 11)),
aiok's samplers against Optuna's NSGA-II.

aiok runs each trial as a process (`aiok tune --command`), exactly as a user would; Optuna calls
the function in-process. Only the values found are compared, not the overhead.

  /usr/bin/python3 bench/hpo_bench.py [--aiok build/aiok] [--seeds 5] [--first-seed 1]
      [--trials 100] [--problems branin,hartmann6,zdt1,zdt2] [--samplers gp,tpe,sobol]

--first-seed runs seeds first-seed .. first-seed + seeds - 1 (the issue's figures: 1..5; others
check that a change is not tuned to those five).

--samplers picks aiok's samplers for the single-objective problems (Optuna's TPE always runs).
"""
import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- the functions (also run as a trial: python3 hpo_bench.py --objective NAME x0 x1 ... OUT)
def branin(x):
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


H6_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14]]
H6_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
H6_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(x):
    return -sum(H6_ALPHA[i] * math.exp(-sum(H6_A[i][j] * (x[j] - H6_P[i][j]) ** 2
                                             for j in range(6))) for i in range(4))


def zdt(x, which):
    f1 = x[0]
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    h = 1 - math.sqrt(f1 / g) if which == 1 else 1 - (f1 / g) ** 2
    return f1, g * h


PROBLEMS = {
    "branin": ([(-5.0, 10.0), (0.0, 15.0)], 1),
    "hartmann6": ([(0.0, 1.0)] * 6, 1),
    "zdt1": ([(0.0, 1.0)] * 30, 2),
    "zdt2": ([(0.0, 1.0)] * 30, 2),
}
REFERENCE = (1.1, 11.0)


def evaluate(name, x):
    if name == "branin":
        return {"f": branin(x)}
    if name == "hartmann6":
        return {"f": hartmann6(x)}
    f1, f2 = zdt(x, 1 if name == "zdt1" else 2)
    return {"f1": f1, "f2": f2}


def hypervolume_2d(points, ref):
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    volume, last_y = 0.0, ref[1]
    for x, y in pts:
        if y < last_y:
            volume += (ref[0] - x) * (last_y - y)
            last_y = y
    return volume


# ---- runs
def run_aiok(aiok, name, sampler, seed, trials, workdir):
    bounds, n_obj = PROBLEMS[name]
    space = os.path.join(workdir, "space.yaml")
    with open(space, "w") as f:
        for i, (lo, hi) in enumerate(bounds):
            f.write(f"x{i}: {{low: {lo!r}, high: {hi!r}}}\n")
    args = " ".join("{x%d}" % i for i in range(len(bounds)))
    command = f"/usr/bin/python3 -S {os.path.abspath(__file__)} --objective {name} {args} {{metrics_file}}"
    objectives = "f:min" if n_obj == 1 else "f1:min,f2:min"
    study = os.path.join(workdir, f"{name}-{sampler}-{seed}.db")
    subprocess.run([aiok, "tune", "--command", command, "--space", space, "--objectives", objectives,
                    "--trials", str(trials), "--workers", "1", "--sampler", sampler, "--pruner",
                    "none", "--seed", str(seed), "--study", study, "--out",
                    os.path.join(workdir, "out"), "-q"], check=True, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(study)
    rows = db.execute("SELECT metrics FROM trials WHERE state = 'complete' ORDER BY number").fetchall()
    return [json.loads(r[0]) for r in rows]


def run_optuna(name, sampler, seed, trials):
    import optuna  # not in the trials: they start a fresh interpreter each

    bounds, n_obj = PROBLEMS[name]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler == "tpe":
        s = optuna.samplers.TPESampler(seed=seed)
    else:
        s = optuna.samplers.NSGAIISampler(seed=seed)
    study = optuna.create_study(directions=["minimize"] * n_obj, sampler=s)

    def objective(trial):
        x = [trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)]
        m = evaluate(name, x)
        return m["f"] if n_obj == 1 else (m["f1"], m["f2"])

    study.optimize(objective, n_trials=trials)
    if n_obj == 1:
        return [{"f": t.value} for t in study.trials]
    return [{"f1": t.values[0], "f2": t.values[1]} for t in study.trials]


def best_so_far(results):
    out, best = [], math.inf
    for m in results:
        best = min(best, m["f"])
        out.append(best)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--objective", nargs="+")
    parser.add_argument("--aiok", default=os.path.join(HERE, "..", "build", "aiok"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--json", default="")
    parser.add_argument("--problems", default="branin,hartmann6,zdt1,zdt2")
    parser.add_argument("--samplers", default="gp,tpe,sobol",
                        help="aiok samplers for Branin and Hartmann6")
    a = parser.parse_args()
    if a.objective:
        name, *xs, out = a.objective
        with open(out, "w") as f:
            json.dump(evaluate(name, [float(x) for x in xs]), f)
        return
    import optuna

    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    print(f"optuna {optuna.__version__}; seeds {seeds[0]}..{seeds[-1]} x {a.trials} trials", flush=True)
    report = {}
    with tempfile.TemporaryDirectory() as work:
        problems = a.problems.split(",")
        for name in [p for p in ["branin", "hartmann6"] if p in problems]:
            curves = {}
            runners = [("optuna-tpe", lambda s: run_optuna(name, "tpe", s, a.trials))]
            for sampler in a.samplers.split(","):
                runners.append((f"aiok-{sampler}",
                                lambda s, sampler=sampler: run_aiok(a.aiok, name, sampler, s, a.trials, work)))
            for label, runner in runners:
                started = time.time()
                curves[label] = [best_so_far(runner(seed)) for seed in seeds]
                print(f"  {name} {label}: {time.time() - started:.0f} s", flush=True)
            median = {k: [statistics.median(c[i] for c in v) for i in range(a.trials)]
                      for k, v in curves.items()}
            target = median["optuna-tpe"][-1]
            row = {"optuna_tpe_median_best_at_100": target}
            row["optuna_tpe_median_best_at_50"] = median["optuna-tpe"][min(49, a.trials - 1)]
            for k in [label for label, _ in runners[1:]]:
                reach = next((i + 1 for i, v in enumerate(median[k]) if v <= target), None)
                row[k] = {"median_best_at_50": median[k][min(49, a.trials - 1)], "median_best_at_100": median[k][-1],
                          "trials_to_reach_optuna_tpe_at_100": reach,
                          "best_at_100_each_seed": [c[-1] for c in curves[k]]}
            row["optuna_tpe_best_at_100_each_seed"] = [c[-1] for c in curves["optuna-tpe"]]
            report[name] = row
            print(name, json.dumps(row), flush=True)
        for name in [p for p in ["zdt1", "zdt2"] if p in problems]:
            row = {}
            for label, runner in [("optuna-nsga2", lambda s: run_optuna(name, "nsga2", s, a.trials)),
                                  ("aiok-tpe", lambda s: run_aiok(a.aiok, name, "tpe", s, a.trials, work)),
                                  ("aiok-nsga2", lambda s: run_aiok(a.aiok, name, "nsga2", s, a.trials, work))]:
                hv = [hypervolume_2d([(m["f1"], m["f2"]) for m in runner(seed)], REFERENCE)
                      for seed in seeds]
                row[label] = {"median_hypervolume": statistics.median(hv), "all": hv}
            report[name] = row
            print(name, json.dumps({k: round(v["median_hypervolume"], 4) for k, v in row.items()}),
                  flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
