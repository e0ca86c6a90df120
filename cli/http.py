"""A small client of the public HTTP API on the standard library (urllib): nothing to install."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    """The API answered with an error: its status and problem+json document (RFC 9457)."""

    status: int
    problem: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        # API Gateway's own answers (throttled, too large) are {"message": ...}, not problems.
        return str(self.problem.get("title") or self.problem.get("message") or f"HTTP {self.status}")

    def lines(self) -> list[str]:
        """What a person reads: the title, the detail and one line per field error."""
        found = [f"error: {self.status} {self.title}"]
        detail = self.problem.get("detail")
        if detail and detail != self.title:
            found.append(f"  {detail}")
        for error in self.problem.get("errors") or []:
            found.append(f"  {error.get('field') or '-'}: {error.get('message', '')}")
        return found


class Unreachable(Exception):
    """No answer from the API (wrong URL, the stack is not running, a timeout)."""


class Client:
    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> tuple[str, Any]:
        """(content type, body: parsed JSON, or text for anything else). Raises ``ApiError``, ``Unreachable``."""
        url = self.base_url + path
        pairs = [(k, v) for k, value in (query or {}).items() for v in _listed(value) if v is not None]
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
        headers = {"accept": "application/json, application/problem+json, text/csv"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _decode(response.headers.get("content-type", ""), response.read())
        except urllib.error.HTTPError as failed:
            _, parsed = _decode(failed.headers.get("content-type", ""), failed.read())
            problem = parsed if isinstance(parsed, dict) else {"title": failed.reason, "detail": str(parsed)[:500]}
            raise ApiError(failed.code, problem) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as failed:
            reason = getattr(failed, "reason", failed)
            raise Unreachable(f"cannot reach {self.base_url}: {reason}") from None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)[1]


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _decode(content_type: str, raw: bytes) -> tuple[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            return content_type, json.loads(text) if text else None
        except json.JSONDecodeError:
            pass
    return content_type, text
