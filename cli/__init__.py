"""``oms``: the operator's command-line tool over the public HTTP API (docs/cli.md)."""
