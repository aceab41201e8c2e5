"""A bounded local load test of `genzoo serve`: REQUESTS sample requests from CLIENTS
concurrent clients against 127.0.0.1, p50/p95 latency and the error count.

    python benchmarks/serve_load.py [--requests 200] [--clients 8] [--model nade]

Trains one small run on the built-in digits in a temporary folder (a few seconds), starts
the studio on a free port in this process, and prints a Markdown block for
benchmarks/serve_load.md. Every request asks for a 16-image grid with its own seed, so the
model worker does real work each time; requests beyond the worker's queue get 503 and
count as errors.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=200, help="sample requests in all")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients")
    p.add_argument("--model", default="nade", help="the model trained and sampled")
    p.add_argument("--steps", type=int, default=200, help="its training steps")
    args = p.parse_args()

    import torch
    import uvicorn

    from genzoo.cli import main as genzoo
    from genzoo.serve.app import Settings, create_app

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / args.model
        assert genzoo(["train", args.model, "--run-dir", str(run), "--set",
                       f"max_steps={args.steps}", "--set", "tensorboard=false", "--set",
                       "progress=false"]) == 0  # fmt: skip
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(Settings(Path(tmp))),
                                               host="127.0.0.1", port=port,
                                               log_level="warning"))  # fmt: skip
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/run/{args.model}/sample.png?n=16&seed="

        def request(i: int) -> tuple[float, int]:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url + str(i), timeout=120) as r:
                    r.read()
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except OSError:
                status = -1
            return time.perf_counter() - started, status

        request(0)  # load the model once: the cache's cold start is not measured
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(request, range(1, args.requests + 1)))
        wall = time.perf_counter() - started
        server.should_exit = True
    latencies = sorted(1000 * t for t, _ in results)
    errors = sum(status != 200 for _, status in results)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"- command: `python benchmarks/serve_load.py --requests {args.requests} "
        f"--clients {args.clients} --model {args.model} --steps {args.steps}`"
    )
    print(
        f"- machine: {os.cpu_count()} CPU cores, {platform.python_implementation()} "
        f"{platform.python_version()}, torch {torch.__version__}, 1 torch thread"
    )
    print(
        f"- {args.requests} requests of GET /run/{args.model}/sample.png?n=16&seed=i, "
        f"{args.clients} concurrent clients, 127.0.0.1"
    )
    print(
        f"- p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, max {latencies[-1]:.1f} ms; "
        f"{args.requests / wall:.1f} requests/s; errors: {errors}"
    )


if __name__ == "__main__":
    main()
