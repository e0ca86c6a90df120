"""Payment gateways: one interface (gateway.py) and its providers (sandbox, Stripe), by name (registry.py)."""
