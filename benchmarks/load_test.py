"""Bounded load test of `clinqa serve` on 127.0.0.1 only: N concurrent users asking for T seconds.

    python benchmarks/load_test.py --index DIR [--users 20] [--seconds 120]

Starts the server as a child process on a free loopback port (no login: loopback mode), runs
`--users` threads that each ask questions in a loop through the Gradio API (`/ask`) until the
time is up, then stops the server. Prints requests, errors and p50/p95 latency. Every request
goes to 127.0.0.1; the loop is bounded in both time and count.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

from common.cliparse import parse_args

QUESTIONS = [
    "What are the symptoms of glaucoma?",
    "What causes gout?",
    "How is type 2 diabetes treated?",
    "Who is at risk for osteoporosis?",
    "What are the treatments for asthma?",
    "How many people are affected by cystic fibrosis?",
    "What is the outlook for Parkinson's disease?",
    "How to prevent high blood pressure?",
]
MAX_REQUESTS_PER_USER = 10_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit("server did not start in time")


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--index", required=True)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--top-k", type=int, default=5)
    args = parse_args(ap)
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "-q", "serve", "--index", args.index,
                             "--host", "127.0.0.1", "--port", str(port)], env=env)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    try:
        wait_ready(url, proc)
        stop_at = time.time() + args.seconds

        def user(n: int) -> None:
            client = Client(url, verbose=False)
            for i in range(MAX_REQUESTS_PER_USER):
                if time.time() >= stop_at:
                    return
                q = QUESTIONS[(n + i) % len(QUESTIONS)]
                t0 = time.perf_counter()
                try:
                    out = client.predict(q, args.top_k, "hybrid", [], "", [], api_name="/ask")
                    ok = isinstance(out, (list, tuple)) and "cq-error" not in str(out[0])
                    with lock:
                        if ok:
                            latencies.append((time.perf_counter() - t0) * 1000)
                        else:
                            errors.append(str(out[0])[:200])
                except Exception as exc:  # every failure is counted, none stops the run
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}"[:200])

        threads = [threading.Thread(target=user, args=(n,)) for n in range(args.users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    latencies.sort()
    n = len(latencies)
    p95 = latencies[int(0.95 * (n - 1))] if n else float("nan")
    print(f"{args.users} users x {args.seconds:.0f} s: {n} answered, {len(errors)} errors")
    if n:
        print(f"latency p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, "
              f"throughput {n / args.seconds:.2f} questions/s")
    for e in errors[:5]:
        print("error:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
