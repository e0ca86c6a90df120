"""The OrderLifecycle's composite steps: several domains' idempotent steps run in one task."""
