"""Starting the local stack as a child process, and a small HTTP client for it.

Used by the demo, the benchmarks and the end-to-end tests: each talks to the stack only
through its HTTP API and its AWS endpoint, as a channel or an operator would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
import requests

from infra.manifest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningStack:
    api_url: str
    aws_url: str
    process: subprocess.Popen[str]
    started_in: float
    log_path: str

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def session(self) -> requests.Session:
        return requests.Session()


@contextmanager
def local_stack(
    *,
    api_port: int | None = None,
    aws_port: int | None = None,
    timeout: float = 180,
    data_dir: str | None = None,
    log_dir: Path | None = None,
) -> Iterator[RunningStack]:
    """``python -m infra.local serve`` in a child process, until the block ends (then it saves
    its state to ``data_dir``, if given, and stops). ``timeout`` bounds the start, which
    includes importing every handler once (a minute and more on a machine busy with other work).

    The stack's log (its stderr) is kept in ``log_dir`` when one is given, for whoever looks
    into a failure afterwards; otherwise it lives in a temporary file removed when the block ends."""
    api_port = api_port or free_port()
    aws_port = aws_port or free_port()
    env = dict(os.environ)
    env.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    # Every function runs in its own environments: a policy an operator saves must reach the
    # others at once in tests, not after the cloud's minute of warm cache.
    env.setdefault("OPERATOR_CONFIG_CACHE_SECONDS", "0")
    log: IO[str]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / "local-stack.log").open("w+")
    else:
        log = tempfile.NamedTemporaryFile("w+", prefix="oms-local-stack-", suffix=".log")  # noqa: SIM115
    started = time.monotonic()
    command = [sys.executable, "-m", "infra.local", "serve", "--moto-port", str(aws_port), "--api-port", str(api_port)]
    process = subprocess.Popen(
        command + (["--data-dir", data_dir] if data_dir else []),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    ready = threading.Event()

    def watch() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("READY"):
                ready.set()
        ready.set()

    threading.Thread(target=watch, daemon=True).start()
    if not ready.wait(timeout) or process.poll() is not None:
        process.kill()
        log.seek(0)
        tail = log.read()[-3000:]
        log.close()
        raise RuntimeError(f"the local stack did not start (exit code {process.poll()}):\n{tail}")
    stack = RunningStack(
        api_url=f"http://127.0.0.1:{api_port}",
        aws_url=f"http://127.0.0.1:{aws_port}",
        process=process,
        started_in=time.monotonic() - started,
        log_path=log.name,
    )
    try:
        yield stack
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
