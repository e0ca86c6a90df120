"""The oms tool without a stack: its tables, how it shows a problem, its settings and exit codes."""

from __future__ import annotations

import importlib
import io
import tomllib

import pytest

from cli.http import ApiError
from cli.main import EXIT_UNREACHABLE, EXIT_USAGE, main
from cli.tables import money, table
from infra.manifest import ROOT


def test_the_project_installs_the_oms_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    module, _, name = project["project"]["scripts"]["oms"].partition(":")
    assert getattr(importlib.import_module(module), name) is main
    assert "cli*" in project["tool"]["setuptools"]["packages"]["find"]["include"]


def test_a_table_pads_columns_and_right_aligns_numbers() -> None:
    text = table([["TEE", 5, 1.5], ["JEANS-32", 120, None]], ["sku", "units", "rate"])
    assert text.splitlines() == [
        "sku       units  rate",
        "--------  -----  ----",
        "TEE           5  1.5",
        "JEANS-32    120  -",
    ]
    assert money(123456, "EUR") == "1234.56 EUR" and money(-5) == "-0.05" and money(None) == "-"


def test_a_problem_shows_its_title_detail_and_each_field() -> None:
    problem = {
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "the body breaks the schema",
        "errors": [{"field": "on_hand", "message": "must be >= 0"}, {"field": "as_of", "message": "required"}],
    }
    assert ApiError(422, problem).lines() == [
        "error: 422 Unprocessable Content",
        "  the body breaks the schema",
        "  on_hand: must be >= 0",
        "  as_of: required",
    ]
    assert ApiError(502, {}).lines() == ["error: 502 HTTP 502"]
    # The gateway's own throttling answer is no problem document: its message is shown.
    assert ApiError(429, {"message": "Too Many Requests"}).lines() == ["error: 429 Too Many Requests"]


def test_without_a_key_or_with_a_bad_command_it_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMS_API_KEY", raising=False)
    err = io.StringIO()
    assert main(["orders", "list"], err=err) == EXIT_USAGE
    assert "OMS_API_KEY" in err.getvalue()
    with pytest.raises(SystemExit):  # argparse prints the usage to stderr first
        raise SystemExit(main(["orders"]))


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_API_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setenv("OMS_API_KEY", "dev-ops-key")
    err = io.StringIO()
    assert main(["--timeout", "5", "exceptions", "list"], err=err) == EXIT_UNREACHABLE
    assert err.getvalue().startswith("error: cannot reach http://127.0.0.1:9")
