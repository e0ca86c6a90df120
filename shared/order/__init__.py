"""The order kernel: the one owner of an order's items, quantities, state and timeline."""
