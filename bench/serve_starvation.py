#!/usr/bin/python3
"""Latency of `aiok serve` while misbehaving clients hold connections (issue 15, defects 13
and 14): N idle keep-alive connections (each asked once, then silent) and M clients sending a
header that never ends, one byte per 100 ms each. Meanwhile /healthz and a 1-row predict are
asked one after the other, each on a new connection, and their latencies reported.

usage: bench/serve_starvation.py --bundle DIR --rows-file TSV [--idle 1000] [--slow 100]
           [--samples 200] [--timeout 2] [--aiok build/aiok] [-- extra serve flags]
A request that takes longer than --timeout seconds counts as failed; the run stops after 5.
"""
import argparse
import json
import os
import re
import resource
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def request(port, method, path, body, timeout):
    """One request on a new connection; returns (seconds, status) or (None, error)."""
    start = time.perf_counter()
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
            s.settimeout(timeout)
            head = f'{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n'
            if body is not None:
                head += f'Content-Type: application/json\r\nContent-Length: {len(body)}\r\n'
            s.sendall(head.encode() + b'\r\n' + (body or b''))
            data = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return None, str(e)
    status = int(data.split(b' ', 2)[1]) if data.startswith(b'HTTP/1.') else 0
    return time.perf_counter() - start, status


def quantile(values, q):
    values = sorted(values)
    return values[int(q * (len(values) - 1))] if values else float('nan')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bundle', required=True)
    ap.add_argument('--rows-file', required=True)
    ap.add_argument('--idle', type=int, default=1000)
    ap.add_argument('--slow', type=int, default=100)
    ap.add_argument('--samples', type=int, default=200)
    ap.add_argument('--timeout', type=float, default=2.0)
    ap.add_argument('--aiok', default=os.path.join(ROOT, 'build', 'aiok'))
    ap.add_argument('serve_flags', nargs='*', help='more `aiok serve` flags (after --)')
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with open(args.rows_file) as f:
        fields = f.readline().rstrip('\n').split('\t')
    row = '\t'.join(fields[1:] if len(fields) == 40 else fields)
    body = json.dumps({'rows': [row]}).encode()

    work = tempfile.mkdtemp(prefix='aiok_serve_starvation_')
    out = open(os.path.join(work, 'serve.out'), 'w+')
    server = subprocess.Popen([args.aiok, 'serve', '--model', args.bundle, '--port', '0', '-q']
                              + args.serve_flags, stdout=out, stderr=subprocess.DEVNULL)
    port = None
    for _ in range(600):
        out.seek(0)
        m = re.search(r'listening on http://127\.0\.0\.1:(\d+)', out.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    assert port, 'the server did not start'

    held = []
    try:
        idle = []
        for _ in range(args.idle):
            s = socket.create_connection(('127.0.0.1', port))
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
            idle.append(s)
        held += idle
        # How many idle connections get their one answer within 10 s.
        poller, by_fd, answered = select.poll(), {}, 0
        for s in idle:
            poller.register(s, select.POLLIN)
            by_fd[s.fileno()] = s
        deadline = time.time() + 10
        while by_fd and time.time() < deadline:
            for fd, _ in poller.poll(100):
                if b'"ok"' in by_fd[fd].recv(4096):
                    answered += 1
                poller.unregister(fd)
                del by_fd[fd]
        slow = [socket.create_connection(('127.0.0.1', port)) for _ in range(args.slow)]
        held += slow
        stop = threading.Event()

        def drip():
            header = b'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + b'a' * 100000
            for i in range(len(header)):
                if stop.is_set():
                    return
                for s in slow:
                    try:
                        s.send(header[i:i + 1], socket.MSG_DONTWAIT)
                    except OSError:
                        pass
                time.sleep(0.1)

        dripper = threading.Thread(target=drip)
        dripper.start()
        time.sleep(0.3)
        results = {'/healthz': [], 'predict': []}
        failed = {'/healthz': 0, 'predict': 0}
        for _ in range(args.samples):
            if sum(failed.values()) >= 5:
                break
            for name, method, path, b in [('/healthz', 'GET', '/healthz', None),
                                          ('predict', 'POST', '/v1/predict', body)]:
                seconds, status = request(port, method, path, b, args.timeout)
                if seconds is None or status != 200:
                    failed[name] += 1
                else:
                    results[name].append(seconds * 1e3)
        stop.set()
        dripper.join()
    finally:
        for s in held:
            s.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()

    print(f'{time.strftime("%Y-%m-%d %H:%M")}, load {os.getloadavg()[0]:.2f}, {args.aiok} serve '
          f'{" ".join(args.serve_flags)}: {args.idle} idle keep-alive connections '
          f'({answered} answered within 10 s), {args.slow} slow-header clients')
    print()
    print('| request | answered | failed (> %g s or error) | p50 | p99 | max |' % args.timeout)
    print('|---|---|---|---|---|---|')
    for name in results:
        v = results[name]
        print(f'| {name} | {len(v)} | {failed[name]} | {quantile(v, 0.5):.2f} ms | '
              f'{quantile(v, 0.99):.2f} ms | {max(v) if v else float("nan"):.2f} ms |')


if __name__ == '__main__':
    main()
