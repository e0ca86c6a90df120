"""Synthesize the Oms stack and return its CloudFormation template.

``python -m infra.cdk.synth`` writes ``cdk.out/Oms.template.json`` and prints its path.
No Docker and no network: the function code is a plain directory asset.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from infra.cdk.app import STACK_NAME, build_app
from infra.cdk.functions import PLACEHOLDER_LAYERS_CONTEXT
from infra.manifest import ROOT


def synth_template(outdir: str | None = None, *, placeholder_layers: bool = True) -> dict[str, Any]:
    """The template; by default with empty dependency layers where ``make layers`` did not run."""
    if outdir is None:
        with tempfile.TemporaryDirectory(prefix="oms-cdk-") as tmp:
            return synth_template(tmp, placeholder_layers=placeholder_layers)
    app, _ = build_app(outdir, extra_context={PLACEHOLDER_LAYERS_CONTEXT: placeholder_layers})
    template: dict[str, Any] = app.synth().get_stack_by_name(STACK_NAME).template
    return template


def main() -> None:
    outdir = ROOT / "cdk.out"
    synth_template(str(outdir), placeholder_layers=False)
    path = outdir / f"{STACK_NAME}.template.json"
    json.loads(path.read_text())  # fail loudly if the file is not there
    print(path)


if __name__ == "__main__":
    main()
