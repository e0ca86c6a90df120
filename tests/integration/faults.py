"""Fault injection through botocore's event hooks on the clients the code already uses.

``shared.aws.client(service)`` is the one client per service every handler uses (in
process, in the integration tests); botocore emits ``before-call.<service>.<Operation>``
before a request is sent and ``after-call.<service>.<Operation>`` once its answer is
parsed. A hook on ``before-call`` can refuse the request (a throttle: the write never
happens) or run a concurrent writer first (an interleaving); a hook on ``after-call`` can
lose the answer of a request that went through (the write committed, the caller sees an
error). Production code is unchanged: it meets the faults AWS would give it.

Rules match on the operation and on text in the request body (the DynamoDB JSON of the
items), e.g. ``mentioning='"fulfillment.cancelled"'``, and fire a bounded number of times.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import client


def client_error(code: str, operation: str, message: str = "injected fault") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class _Rule:
    name: str
    operation: str
    mentioning: tuple[str, ...]
    action: Callable[[], None]
    times: int


class Faults:
    """Rules on one service's client; ``fired`` counts what each rule did."""

    def __init__(self, service: str):
        self.service = service
        self.client = client(service)
        self._rules: dict[str, list[_Rule]] = {"before-call": [], "after-call": []}
        self._lock = threading.Lock()
        self._local = threading.local()
        self.fired: Counter[str] = Counter()
        self._event_prefix = self.client.meta.service_model.service_id.hyphenize()
        for stage in self._rules:
            self.client.meta.events.register(f"{stage}.{self._event_prefix}", self._hook(stage), f"faults-{stage}")

    def close(self) -> None:
        for stage in self._rules:
            self.client.meta.events.unregister(f"{stage}.{self._event_prefix}", unique_id=f"faults-{stage}")

    # -- rules

    def before(
        self, operation: str, action: Callable[[], None], *, mentioning: str | tuple[str, ...] = (), times: int = 1
    ) -> None:
        """Run ``action`` before a matching request is sent (it may raise: the request fails unsent)."""
        self._add("before-call", operation, action, mentioning, times)

    def after(
        self, operation: str, action: Callable[[], None], *, mentioning: str | tuple[str, ...] = (), times: int = 1
    ) -> None:
        """Run ``action`` once a matching request went through (it may raise: the answer is lost)."""
        self._add("after-call", operation, action, mentioning, times)

    def throttle(
        self,
        operation: str,
        *,
        mentioning: str | tuple[str, ...] = (),
        times: int = 2,
        code: str = "ProvisionedThroughputExceededException",
    ) -> None:
        """Refuse a matching request ``times`` times as DynamoDB does past its throughput."""

        def refuse() -> None:
            raise client_error(code, operation, "The level of configured provisioned throughput was exceeded")

        self.before(operation, refuse, mentioning=mentioning, times=times)

    def lose_answer(
        self,
        operation: str,
        *,
        mentioning: str | tuple[str, ...] = (),
        times: int = 1,
        code: str = "InternalServerError",
    ) -> None:
        """Fail a matching request after it went through, as a 500 after the commit does."""

        def lost() -> None:
            raise client_error(code, operation, "injected: the write committed, its answer was lost")

        self.after(operation, lost, mentioning=mentioning, times=times)

    def _add(
        self,
        stage: str,
        operation: str,
        action: Callable[[], None],
        mentioning: str | tuple[str, ...],
        times: int,
    ) -> None:
        texts = (mentioning,) if isinstance(mentioning, str) else tuple(mentioning)
        name = f"{stage}:{operation}:{'|'.join(texts)}"
        with self._lock:
            self._rules[stage].append(_Rule(name, operation, texts, action, times))

    def _hook(self, stage: str) -> Callable[..., None]:
        def hook(model: Any, context: Any = None, **kwargs: Any) -> None:
            if getattr(self._local, "busy", False):  # an action's own requests are not faulted
                return
            body = self._body(stage, kwargs, context)
            rule = self._take(stage, model.name, body)
            if rule is None:
                return
            self._local.busy = True
            try:
                rule.action()
            finally:
                self._local.busy = False

        return hook

    @staticmethod
    def _body(stage: str, kwargs: dict[str, Any], context: Any) -> str:
        if stage == "before-call":
            raw = kwargs["params"].get("body", b"")
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            if isinstance(context, dict):
                context["faults_body"] = text  # the answer's hook matches on the request
            return text
        return str(context.get("faults_body", "")) if isinstance(context, dict) else ""

    def _take(self, stage: str, operation: str, body: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules[stage]:
                if rule.times > 0 and rule.operation == operation and all(t in body for t in rule.mentioning):
                    rule.times -= 1
                    self.fired[rule.name] += 1
                    return rule
        return None


@contextmanager
def faults(service: str = "dynamodb") -> Iterator[Faults]:
    injected = Faults(service)
    try:
        yield injected
    finally:
        injected.close()
