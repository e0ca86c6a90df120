"""``python -m infra.local serve``: the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import warnings

from infra.local.stack import LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run moto, the provisioned stack and the HTTP API")
    serve.add_argument("--moto-port", type=int, default=4566, help="AWS endpoint port (0: any free port)")
    serve.add_argument("--api-port", type=int, default=3000, help="HTTP API port (0: any free port)")
    serve.add_argument("--data-dir", help="keep the state here across restarts (saved on stop and every 30 s)")
    fire = commands.add_parser("run-schedule", help="fire a schedule of the manifest now on a running local stack")
    fire.add_argument("name", help="the schedule's name in infra/manifest.py (e.g. NightlyForecasts)")
    fire.add_argument("--aws-url", default="http://127.0.0.1:4566", help="the running stack's AWS endpoint")
    args = parser.parse_args(argv)
    if args.command == "run-schedule":
        return run_schedule(args.name, args.aws_url)

    level = os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Emitted on every invocation while metrics are disabled locally.
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())

    stack = LocalStack(moto_port=args.moto_port, api_port=args.api_port, data_dir=args.data_dir).start()
    try:
        machines = stack.resources.state_machines if stack.resources else {}
        print(f"AWS endpoint: {stack.endpoint_url} (moto, region {stack.region}, any credentials)")
        print(f"HTTP API: {stack.api_url}/v1")
        print(f"Console: {stack.api_url}/console")
        print(f"Startup: {stack.startup_seconds:.2f} s")
        if stack.data_dir is not None:
            restored = ", ".join(f"{n} {what}" for what, n in stack.restored.items()) or "nothing saved yet"
            print(f"State: {stack.data_dir} ({restored})")
        for name, arn in machines.items():
            print(
                f"{name} executions:  aws stepfunctions list-executions "
                f"--endpoint-url {stack.endpoint_url} --state-machine-arn {arn}"
            )
        print("READY", flush=True)
        stopping.wait()
    finally:
        stack.stop()
    return 0


def run_schedule(name: str, aws_url: str) -> int:
    import json

    import boto3

    from infra.local.schedules import fire

    def client(service: str) -> object:
        return boto3.client(
            service,
            endpoint_url=aws_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    for answer in fire(client("events"), client("lambda"), name):
        print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
