"""Static files under a path of the HTTP API (the web console), as the cloud's CDN serves them."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from infra.manifest import StaticSite

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


def serves(site: StaticSite, path: str) -> bool:
    return path == site.path or path.startswith(site.path + "/")


def static_response(site: StaticSite, method: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The file under ``site.directory`` (the index for the site's own path); never outside it."""
    if method not in ("GET", "HEAD"):
        return 405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"method not allowed"
    relative = path[len(site.path) :].lstrip("/") or site.index
    root = site.directory.resolve()
    target = (root / relative).resolve()
    if root not in target.parents or not target.is_file():
        return 404, [("Content-Type", "text/plain")], b"not found"
    kind = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    headers = [("Content-Type", kind), ("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff")]
    return 200, headers, Path(target).read_bytes()
