#!/usr/bin/python3
"""Load test of `aiok serve`: wrk (a second process, loopback) posting /v1/predict at 1, 8 and
64 concurrent connections. Reports requests/s, rows/s and p50/p99 latency as Markdown.

usage: bench/serve_bench.py --bundle DIR --rows-file TSV [--rows-per-request 1]
           [--seconds 10] [--connections 1,8,64] [--max-wait-ms 2] [--repeat 1]
           [--aiok build/aiok[,OTHER...]] [-- extra serve flags]
wrk runs with min(connections, 2) threads: `--connections 32` is `wrk -t2 -c32`. With
--repeat N each level runs N times and every run is printed (the machine is shared: compare
runs taken side by side). --aiok A,B,... names the binaries to compare (an A/B against an
older build); they take turns, each run on a fresh server.
TSV holds raw Criteo rows (with or without the label); the request body carries the first
rows-per-request of them as TSV lines. Server and load generator share the machine's cores.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AIOK = os.path.join(ROOT, 'build', 'aiok')

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
"""


def seconds_of(text):
    """wrk's durations: 512.00us, 1.20ms, 2.00s, 1.00m."""
    m = re.fullmatch(r'([\d.]+)(us|ms|s|m)', text)
    if not m:
        raise ValueError(f'unexpected wrk duration {text!r}')
    return float(m.group(1)) * {'us': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0}[m.group(2)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bundle', required=True)
    ap.add_argument('--rows-file', required=True)
    ap.add_argument('--rows-per-request', type=int, default=1)
    ap.add_argument('--seconds', type=int, default=10)
    ap.add_argument('--connections', default='1,8,64')
    ap.add_argument('--max-wait-ms', default='2')
    ap.add_argument('--repeat', type=int, default=1)
    ap.add_argument('--aiok', default=AIOK)
    ap.add_argument('serve_flags', nargs='*', help='more `aiok serve` flags (after --)')
    args = ap.parse_args()

    rows = []
    with open(args.rows_file) as f:
        for line in f:
            fields = line.rstrip('\n').split('\t')
            rows.append('\t'.join(fields[1:] if len(fields) == 40 else fields))
            if len(rows) == args.rows_per_request:
                break
    work = tempfile.mkdtemp(prefix='aiok_serve_bench_')
    body = os.path.join(work, 'body.json')
    json.dump({'rows': rows}, open(body, 'w'))
    script = os.path.join(work, 'post.lua')
    open(script, 'w').write(LUA.format(body=body))

    binaries = args.aiok.split(',')
    print(f'{time.strftime("%Y-%m-%d %H:%M")}, load before: {os.getloadavg()[0]:.2f}; aiok serve '
          f'(fp32, max-wait {args.max_wait_ms} ms{", " if args.serve_flags else ""}'
          f'{" ".join(args.serve_flags)}) and wrk on the same {os.cpu_count()} cores, loopback, '
          f'{args.rows_per_request} row(s) per request, {args.seconds} s per run')
    print()
    print('| binary | connections | requests/s | rows/s | p50 latency | p99 latency | errors | '
          'load |')
    print('|---|---|---|---|---|---|---|---|')
    levels = [int(x) for x in args.connections.split(',')]
    runs = {}
    # Binaries take turns within each repeat, so a busy spell on the shared machine hits all.
    for c in [c for c in levels for _ in range(args.repeat)]:
        for binary in binaries:
            with Server(binary, args, work) as port:
                result = subprocess.run(
                    ['wrk', '-t', str(min(c, 2)), '-c', str(c), '-d', f'{args.seconds}s',
                     '--latency', '-s', script, f'http://127.0.0.1:{port}/v1/predict'],
                    check=True, capture_output=True, text=True).stdout
            rps = float(re.search(r'Requests/sec:\s+([\d.]+)', result).group(1))
            p50 = seconds_of(re.search(r'^\s*50%\s+(\S+)', result, re.M).group(1))
            p99 = seconds_of(re.search(r'^\s*99%\s+(\S+)', result, re.M).group(1))
            errors = re.search(r'Non-2xx or 3xx responses: (\d+)', result)
            print(f'| {binary} | {c} | {rps:,.0f} | {rps * args.rows_per_request:,.0f} | '
                  f'{p50 * 1e3:.2f} ms | {p99 * 1e3:.2f} ms | {errors.group(1) if errors else 0} '
                  f'| {os.getloadavg()[0]:.2f} |', flush=True)
            runs.setdefault((binary, c), []).append(rps)
    if args.repeat > 1:
        print()
        for (binary, c), values in runs.items():
            print(f'median of {len(values)}: {binary} at {c} connections: '
                  f'{statistics.median(values):,.0f} requests/s')


class Server:
    """`aiok serve` on a free port for the duration of a with block."""

    def __init__(self, binary, args, work):
        self.out = open(os.path.join(work, 'serve.out'), 'w+')
        self.process = subprocess.Popen(
            [binary, 'serve', '--model', args.bundle, '--port', '0', '--max-wait-ms',
             args.max_wait_ms, '-q'] + args.serve_flags, stdout=self.out,
            stderr=subprocess.DEVNULL)

    def __enter__(self):
        for _ in range(600):
            self.out.seek(0)
            m = re.search(r'listening on http://127\.0\.0\.1:(\d+)', self.out.read())
            if m:
                return m.group(1)
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError('the server did not start')

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


if __name__ == '__main__':
    main()
