"""Payments: authorize after allocation, capture per shipment, provider webhooks."""
