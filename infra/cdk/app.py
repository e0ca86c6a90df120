"""The CDK app: ``python -m infra.cdk.app`` synthesizes the ``Oms`` stack to ``cdk.out/``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.cdk.stack import OmsStack
from infra.manifest import ROOT

STACK_NAME = "Oms"
CDK_JSON = ROOT / "cdk.json"


def cdk_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """cdk.json's context: the CDK CLI passes it to the app, a plain run does not."""
    context: dict[str, Any] = json.loads(path.read_text())["context"]
    return context


def build_app(outdir: str | None = None, extra_context: dict[str, Any] | None = None) -> tuple[App, OmsStack]:
    app = App(outdir=outdir, context={**cdk_context(), **(extra_context or {})})
    # No env: the template is account- and region-agnostic (no lookups at synth time).
    stack = OmsStack(app, STACK_NAME, description="Order management system")
    # A violation that is not acknowledged (with its reason) fails synthesis.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True))
    return app, stack


def main() -> None:
    # The CDK CLI chooses the output folder (--output); a plain run writes cdk.out/.
    app, _ = build_app(os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    app.synth()


if __name__ == "__main__":
    main()
