"""The demo: the order lifecycle played on the local stack by channels, warehouses, carriers and agents."""
