"""The local stack tests' handlers leave nothing behind in the temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys

from infra.manifest import ROOT

# The first process to import the module makes the records directory; a process it starts
# (an environment) imports it again and must use the same one.
_PARENT_AND_CHILD = """
import subprocess, sys
import tests.infra.stack_functions as functions
print(functions.RECORDS)
child = "import tests.infra.stack_functions as f; print(f.RECORDS)"
print(subprocess.run([sys.executable, "-c", child], check=True, capture_output=True, text=True).stdout.strip())
"""


def test_the_records_directory_is_made_once_and_removed_with_the_process_that_made_it(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMS_TEST_RECORDS"} | {"TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _PARENT_AND_CHILD], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    parent, child = done.stdout.split()
    assert parent == child and parent.startswith(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
