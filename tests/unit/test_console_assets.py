"""The console's static files: pinned libraries unchanged, nothing fetched from elsewhere,
and the local stack's static route serving only files under the console's folder."""

from __future__ import annotations

import hashlib
import re

from infra.local.static_files import serves, static_response
from infra.manifest import CONSOLE

VENDOR = CONSOLE.directory / "vendor"


def test_vendored_libraries_match_their_recorded_hashes() -> None:
    rows = re.findall(r"\| `([^`]+\.js)` \|.*\| `([0-9a-f]{64})` \|", (VENDOR / "README.md").read_text())
    assert {name for name, _ in rows} == {p.name for p in VENDOR.glob("*.js")}
    for name, digest in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_the_page_loads_only_its_own_files() -> None:
    html = (CONSOLE.directory / CONSOLE.index).read_text()
    sources = re.findall(r'(?<![:\w])(?:src|href)="([^"#]+)"', html)
    assert sources, "the page loads nothing?"
    for source in sources:
        assert source.startswith(CONSOLE.path + "/") or source.startswith("data:"), source
        if source.startswith(CONSOLE.path + "/"):
            assert (CONSOLE.directory / source[len(CONSOLE.path) + 1 :]).is_file(), source


def test_static_route_serves_the_index_and_files_and_nothing_outside() -> None:
    assert serves(CONSOLE, "/console") and serves(CONSOLE, "/console/app.js")
    assert not serves(CONSOLE, "/consoles") and not serves(CONSOLE, "/v1/orders")
    status, headers, body = static_response(CONSOLE, "GET", "/console")
    assert status == 200 and dict(headers)["Content-Type"].startswith("text/html") and b"consoleApp" in body
    status, headers, _ = static_response(CONSOLE, "GET", "/console/app.js")
    assert status == 200 and dict(headers)["Content-Type"].startswith("text/javascript")
    for outside in ("/console/../pyproject.toml", "/console/../../etc/passwd", "/console/vendor/../../README.md"):
        assert static_response(CONSOLE, "GET", outside)[0] == 404, outside
    assert static_response(CONSOLE, "GET", "/console/missing.js")[0] == 404
    assert static_response(CONSOLE, "POST", "/console")[0] == 405
