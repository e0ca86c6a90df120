"""Pure rules of the domain: typed values in, decisions out; no I/O."""
