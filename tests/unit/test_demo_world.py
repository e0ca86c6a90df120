"""The demo's warehouses: which fulfillment orders turn out to hold damaged stock."""

from __future__ import annotations

from typing import Any

from demo.world import World


def _world(sent: list[str]) -> World:
    """A world whose warehouses record what they send instead of sending it (never started)."""
    world = World("http://127.0.0.1:9", seed=1)

    def send(method: str, path: str, what: str, **kwargs: Any) -> Any:
        sent.append(path)
        return {"shipment_id": "shp_1"}

    for warehouse in world.warehouses:
        warehouse.api.send = send  # type: ignore[method-assign]
        warehouse.carriers.track = lambda *args: None  # type: ignore[method-assign]
    return world


def _fo(order_id: str) -> dict[str, Any]:
    return {"fo_id": f"fo_{order_id}", "order_id": order_id, "lines": [{"line_id": "ln_1", "open": 1}]}


def test_one_fulfillment_order_in_twenty_is_rejected_but_never_a_spared_orders() -> None:
    sent: list[str] = []
    world = _world(sent)
    warehouse = world.warehouses[0]
    world.stats.worked = 7  # the turn that finds damaged stock
    world.spare("ord_shopify")
    warehouse.work(_fo("ord_shopify"))
    assert sent[-1] == "/v1/fulfillment-orders/fo_ord_shopify/ship"
    assert world.stats.rejected == 0

    world.stats.worked = 7
    warehouse.work(_fo("ord_web"))
    assert sent[-1] == "/v1/fulfillment-orders/fo_ord_web/reject"
    assert world.stats.rejected == 1 and world.stats.rejected_orders == {"ord_web"}
