"""The process environments are forked from keeps botocore's data files loaded: a new
environment's first session and client read nothing from disk."""

from __future__ import annotations

import subprocess
import sys

from infra.manifest import ROOT

# Run in a fresh interpreter: the test process's own conftest caches botocore's files too.
_PROBE = """
import boto3, botocore.session
from botocore import loaders
import infra.local.warm

read = []
original = loaders.JSONFileLoader.load_file
loaders.JSONFileLoader.load_file = lambda self, path: read.append(path) or original(self, path)
session = boto3.session.Session(botocore_session=botocore.session.get_session())
session.client("dynamodb", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")
print(len(read), read)
"""


def test_a_new_session_and_client_after_the_warm_up_read_no_file():
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "0 []", out.stdout
