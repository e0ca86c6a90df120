"""Holds on orders and the fraud screening that may place one."""
