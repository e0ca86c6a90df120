"""The shape of the code: the dependency order between domains, api.py as each domain's only door,
and the order kernel as the only writer of an order's statuses (docs/architecture.md)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_dependency_order_holds():
    """import-linter checks the layers in pyproject.toml: shared imports no domain, no domain a higher one."""
    # In its own process: import-linter reconfigures logging, which other tests read.
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:]


def foreign_imports(tree: Path) -> list[str]:
    """Imports of another domain's module other than its api.py, as ``file: module``."""
    found = []
    for path in sorted(tree.glob("*/**/*.py")):
        domain = path.relative_to(tree).parts[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                # "from functions.payments import api" names the module in the import list
                modules = [f"{node.module}.{a.name}" for a in node.names] if len(parts) == 2 else [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == tree.name and len(parts) > 1 and parts[1] != domain and parts[2:] != ["api"]:
                    found.append(f"{path.relative_to(tree.parent)}: {module}")
    return found


def test_domains_use_each_other_through_api_only():
    assert foreign_imports(ROOT / "functions") == []


def test_the_api_rule_catches_a_back_door(tmp_path: Path):
    tree = tmp_path / "functions"
    (tree / "payments" / "logic").mkdir(parents=True)
    (tree / "changes").mkdir()
    (tree / "payments" / "logic" / "refund.py").write_text("def refund(): ...\n")
    (tree / "changes" / "settle.py").write_text("from functions.payments.logic.refund import refund\n")
    fine = "from functions.payments.api import refund\nfrom functions.payments import api\n"
    (tree / "changes" / "fine.py").write_text(fine)
    assert foreign_imports(tree) == ["functions/changes/settle.py: functions.payments.logic.refund"]


# The signatures of a write of the header's statuses: an update expression or an item literal.
_HEADER_STATUS = re.compile(r"fulfillment_status\s*=\s*:|workflow\.#ws\s*=|[\"']fulfillment_status[\"']\s*:\s*[\"']")
# "#st" names other items' statuses too (allocations, fulfillment orders): a write of the
# order's own status is one in a module that addresses the order header.
_STATUS = re.compile(r"#st\s*=\s*:|[\"']status[\"']\s*:\s*[\"'](open|on_hold|completed|failed|RUNNING)[\"']")


def writes_order_status(source: str) -> bool:
    return bool(_HEADER_STATUS.search(source) or ("ORDER_HEADER" in source and _STATUS.search(source)))


@pytest.mark.parametrize("folder", ["functions", "shared"])
def test_only_the_order_kernel_writes_an_order_status(folder: str):
    writers = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.parent.name != "order" and writes_order_status(path.read_text())
    ]
    assert writers == []


def test_the_status_rule_sees_a_hand_written_status():
    assert writes_order_status('{"Key": keys.ORDER_HEADER, "UpdateExpression": "SET #st = :st"}')
    assert writes_order_status('"UpdateExpression": "SET fulfillment_status = :fs"')
    assert not writes_order_status('{"Key": alloc_key, "UpdateExpression": "SET #st = :st"}')
