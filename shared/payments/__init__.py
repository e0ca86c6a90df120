"""Payments: one gateway interface, its providers, and the order's payment records."""
