"""The whole local stack in one process: moto server, provisioned manifest, HTTP API."""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from infra import manifest

# warm: the AWS service models parsed once per process (moto parses requests with them,
# and each of its backends loads the endpoint data again otherwise).
from infra.local import lambda_adapter, moto_patches, persistence, requests_meter, runtime, warm, wire  # noqa: F401
from infra.local.environments import Environments
from infra.local.http_api import Api, HttpApi
from infra.local.provision import LocalResources, provision

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# How much longer than its configured timeout a function may run here (see runtime).
TIMEOUT_SCALE = float(os.environ.get("OMS_LOCAL_TIMEOUT_SCALE", "3"))
REGION = "us-east-1"
# How long stopping waits for stream records and queued messages to reach their handlers.
SETTLE_BEFORE_STOP_SECONDS = 20.0

# Always set: handlers in this process must reach the local endpoint with fake credentials.
_FORCED_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
# Defaults the caller may override: keep X-Ray and metric blobs off the console.
_DEFAULT_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "oms",
}
_UNSET_ENV = ("AWS_SESSION_TOKEN", "AWS_PROFILE")
# The emulator's heap is long-lived (tables, stream records, the models and code loaded at
# start), and CPython's default thresholds had the collector walk all of it every few
# seconds under load: what start built is frozen out of collections, and young objects
# are collected after 10,000 allocations rather than 700.
_GC_THRESHOLDS = (10_000, 20, 20)


class LocalStack:
    """Context manager; ports 0 pick free ports (read them back from the attributes).

    One per process at a time: moto's backends, the adapter and the environment are
    process-wide. Run more stacks as child processes (``python -m infra.local serve``).
    """

    _active: LocalStack | None = None

    def __init__(
        self, moto_port: int = 4566, api_port: int = 3000, region: str = REGION, data_dir: str | Path | None = None
    ):
        self.moto_port = moto_port
        # Where the state is saved on stop (and periodically) and restored from on start.
        self.data_dir = Path(data_dir) if data_dir else None
        self.restored: dict[str, int] = {}
        self._saver: persistence.Saver | None = None
        self.api_port = api_port
        self.region = region
        self.resources: LocalResources | None = None
        self.startup_seconds = 0.0
        self._moto: ThreadedMotoServer | None = None
        self.socket_server: wire.WireServer | None = None  # the AWS endpoint for the environments
        self._wire_dir: str | None = None
        self._api: HttpApi | None = None
        self._saved_env: dict[str, str | None] = {}
        self._gc_thresholds: tuple[int, int, int] | None = None
        self.environments: Environments | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.moto_port}"

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    def start(self) -> LocalStack:
        started = time.monotonic()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        _ensure_free(self.moto_port)  # moto's server thread would die silently and start() hang
        if LocalStack._active is not None:
            raise RuntimeError(f"a LocalStack already runs in this process ({LocalStack._active.endpoint_url})")
        LocalStack._active = self
        try:
            app = _aws_app()
            self._moto = _MotoServer(app, ip_address=HOST, port=self.moto_port, verbose=False)
            self._moto.start()
            self.moto_port = self._moto.get_host_and_port()[1]
            # The function environments reach the same application over a Unix socket (wire).
            self._wire_dir = tempfile.mkdtemp(prefix="oms-aws-")
            socket_path, callers_path = (os.path.join(self._wire_dir, name) for name in ("aws.sock", "callers.sock"))
            self.socket_server = wire.WireServer(app, socket_path, HOST, self.moto_port, callers_path).start()
            self._configure_env()
            # The process every environment forks from imports the handlers meanwhile, on the
            # other core: ready before the first request rather than during it.
            self.environments = Environments(preload=_handler_modules())
            zygote = threading.Thread(target=self.environments.start_zygote, name="zygote", daemon=True)
            zygote.start()
            self._post("/moto-api/reset", None)  # backends are process-wide: start clean
            requests_meter.reset()
            self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
            lambda_adapter.install()
            moto_patches.install()  # DynamoDB atomicity and asynchronous stream delivery
            self.resources = provision(self.endpoint_url, self.region)
            self._set_env(self.resources.environment())
            _reset_shared_caches()
            runtime.use_environments(self.environments, dict(os.environ), TIMEOUT_SCALE)
            self._api = HttpApi(Api(region=self.region), host=HOST, port=self.api_port).start()
            self.api_port = self._api.port
            if self.data_dir is not None:
                self.restored = persistence.restore(self, self.data_dir)
                self._saver = persistence.Saver(self, self.data_dir)
            zygote.join()
            self._gc_thresholds = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*_GC_THRESHOLDS)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        log.info("local stack up in %.2f s", self.startup_seconds)
        return self

    def stop(self) -> None:
        if LocalStack._active is not self:
            return
        # Deliver what was written while handlers still run, before the endpoint they call goes.
        deadline = time.monotonic() + SETTLE_BEFORE_STOP_SECONDS
        while time.monotonic() < deadline:
            if moto_patches.wait_for_streams(1.0) and moto_patches.wait_for_queues(1.0):
                break
        if self._saver is not None:
            self._saver.stop()  # while the AWS endpoint still answers
            self._saver = None
        if self._api:
            self._api.stop()
            self._api = None
        if self._moto:
            self._moto.stop()
            self._moto = None
        if self.socket_server:
            self.socket_server.stop()
            self.socket_server = None
        if self._wire_dir:
            shutil.rmtree(self._wire_dir, ignore_errors=True)
            self._wire_dir = None
        moto_patches.wait_for_queues()
        runtime.use_environments(None)
        if self.environments is not None:
            self.environments.close()
            self.environments = None
        lambda_adapter.uninstall()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        _reset_shared_caches()
        if self._gc_thresholds is not None:
            gc.set_threshold(*self._gc_thresholds)
            gc.unfreeze()
            self._gc_thresholds = None
        LocalStack._active = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region)

    def _configure_env(self) -> None:
        self._set_env(
            {
                **_FORCED_ENV,
                # moto's Step Functions interpreter calls Lambda at localhost:$MOTO_PORT.
                "MOTO_PORT": str(self.moto_port),
                "AWS_ENDPOINT_URL": self.endpoint_url,
                **(self.socket_server.environment() if self.socket_server else {}),
            }
        )
        self._set_env({k: v for k, v in _DEFAULT_ENV.items() if k not in os.environ})
        for key in _UNSET_ENV:
            self._saved_env.setdefault(key, os.environ.pop(key, None))

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _post(self, path: str, body: Any) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(self.endpoint_url + path, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def _aws_app() -> Any:
    """moto's application with every request counted (``requests_meter``)."""
    return requests_meter.Middleware(moto_patches.DirectDispatch(DomainDispatcherApplication(create_backend_app)))


class _MotoServer(ThreadedMotoServer):
    """moto's threaded server serving ``app``."""

    def __init__(self, app: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self._app = app

    def _server_entry(self) -> None:
        self._server = make_server(
            self._ip_address, self._port, self._app, True, request_handler=moto_patches.KeepAliveRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def _ensure_free(port: int) -> None:
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise OSError(f"port {port} on {HOST} is in use: {exc}") from exc


def _handler_modules() -> list[str]:
    """What every environment imports at init, imported once in the process they fork from."""
    return sorted({spec.handler.rpartition(".")[0] for spec in manifest.FUNCTIONS})


def _reset_shared_caches() -> None:
    """Cached clients, settings and policies would still belong to a previous stack."""
    try:
        from shared import warm_cache
    except ImportError:
        return
    warm_cache.reset_all()
