"""Lambda layers of third-party packages the Powertools layer does not carry.

``python -m infra.cdk.layers`` (``make layers``) installs each layer of the manifest into
``build/layers/<name>/python`` with pip, as Lambda's arm64 Python runtime needs them
(manylinux wheels for aarch64), at the versions pinned in pyproject.toml. Deploying
needs the built layers; synthesizing for tests may use empty placeholders.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.manifest import LAYERS, ROOT

BUILD = ROOT / "build" / "layers"
# Lambda's Python 3.12 runtime is Amazon Linux 2023 (glibc 2.34) on arm64: wheels built
# for glibc 2.17 or 2.28 both run there (highspy publishes only the latter).
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
PYTHON_VERSION = "3.12"
PLACEHOLDER = "PLACEHOLDER"


def pinned(names: tuple[str, ...]) -> list[str]:
    """``name==version`` for each name, from pyproject.toml (or pip's resolution for transitive ones)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {
        re.split(r"[\[=<>~ ]", requirement, maxsplit=1)[0].lower(): requirement
        for requirement in project["dependencies"]
    }
    return [pins.get(name.lower(), name) for name in names]


def layer_dir(name: str) -> Path:
    return BUILD / name


def is_built(name: str) -> bool:
    python = layer_dir(name) / "python"
    return python.exists() and not (python / PLACEHOLDER).exists()


def build(name: str) -> Path:
    target = layer_dir(name) / "python"
    target.mkdir(parents=True, exist_ok=True)
    (target / PLACEHOLDER).unlink(missing_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--upgrade",
            "--target",
            str(target),
            *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
            "--python-version",
            PYTHON_VERSION,
            "--implementation",
            "cp",
            "--only-binary=:all:",
            *pinned(LAYERS[name]),
        ],
        check=True,
    )
    return layer_dir(name)


def placeholder(name: str) -> Path:
    """An empty layer, for synthesizing a template whose layer contents do not matter."""
    path = layer_dir(name)
    if not path.exists():
        (path / "python").mkdir(parents=True)
        (path / "python" / PLACEHOLDER).write_text("Run `make layers` before deploying.\n")
    return path


def main() -> None:
    for name in LAYERS:
        print(build(name))


if __name__ == "__main__":
    main()
