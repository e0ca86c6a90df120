"""The inventory domain's pure rules: stock arithmetic and checks, daily capacity."""
