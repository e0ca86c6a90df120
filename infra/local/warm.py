"""Imported once by the process every execution environment is forked from.

A new environment's first AWS client reads and parses its service model from disk
(tens of ms of CPU per service, every environment again: ``shared.aws`` builds each
client from a fresh boto3 session, as a new Lambda environment would), and its session
the endpoints file (about 40 ms). Here the loaded files are shared by all sessions of
the process and loaded once before the fork, so every environment starts with them in
memory. What the handlers run is unchanged: the same models, the same clients.
"""

from __future__ import annotations

import functools
from typing import Any

from botocore import loaders

SERVICES = ("dynamodb", "stepfunctions", "events", "sqs", "secretsmanager", "sesv2", "ses")

_original = loaders.Loader.load_service_model
_loaded: dict[tuple[Any, ...], Any] = {}


@functools.wraps(_original)
def _load_service_model(self: Any, service_name: str, type_name: str, api_version: str | None = None) -> Any:
    key = (service_name, type_name, api_version)
    found = _loaded.get(key)
    if found is None:
        found = _loaded[key] = _original(self, service_name, type_name, api_version)
    return found


loaders.Loader.load_service_model = _load_service_model

# Every other data file (the endpoints, partitions, rule sets) is read through this one:
# ``load_data`` too.
_data_with_path = loaders.Loader.load_data_with_path


@functools.wraps(_data_with_path)
def _load_data_with_path(self: Any, name: str) -> Any:
    key = ("data_with_path", tuple(self.search_paths), name)
    found = _loaded.get(key)
    if found is None:
        found = _loaded[key] = _data_with_path(self, name)
    return found


loaders.Loader.load_data_with_path = _load_data_with_path


def _warm() -> None:
    import boto3

    for service in SERVICES:
        try:
            boto3.session.Session().client(service, region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
        except Exception:  # a service this botocore lacks: nothing to warm
            continue


_warm()
