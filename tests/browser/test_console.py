"""The web console in a real browser, over the local stack's public API only.

Each test signs in with one of the development keys and does what that caller does at
work; every page it passes is written to build/screenshots/.
"""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.local.client import RunningStack
from tests.browser.conftest import screenshot, sign_in
from tests.browser.world import AGENT, APP, OPS, WEB, WMS, World

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]


def _order(stack: RunningStack, order_id: str) -> dict:
    response = requests.get(f"{stack.api_url}/v1/orders/{order_id}", headers={"x-api-key": OPS}, timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_console_is_served_by_the_stack_with_its_pinned_libraries(stack: RunningStack) -> None:
    index = requests.get(f"{stack.api_url}/console", timeout=60)
    assert index.status_code == 200
    assert index.headers["Content-Type"].startswith("text/html")
    for asset in re.findall(r'src="(/console/[^"]+)"', index.text):
        found = requests.get(stack.api_url + asset, timeout=60)
        assert found.status_code == 200, asset
        assert found.headers["Content-Type"].startswith("text/javascript")
    # Nothing outside the console's folder, however the path is spelled.
    assert requests.get(f"{stack.api_url}/console/../infra/manifest.py", timeout=60).status_code == 404
    assert requests.get(f"{stack.api_url}/console/%2e%2e/pyproject.toml", timeout=60).status_code == 404


def test_agent_finds_an_order_by_email_and_cancels_one_line(page: Page, stack: RunningStack, world: World) -> None:
    sign_in(page, stack, AGENT)
    expect(page.get_by_test_id("principal")).to_contain_text("service agent")
    screenshot(page, "orders")

    # From the keyboard: "/" goes to the search box, Enter searches.
    expect(page.locator("#main")).to_be_focused()
    page.keyboard.press("/")
    expect(page.get_by_label(re.compile("Order id, external id, e-mail"))).to_be_focused()
    page.keyboard.type(world.customer_email)
    page.keyboard.press("Enter")
    results = page.get_by_test_id("search-results")
    expect(results.get_by_role("link", name=re.compile(world.agent_order))).to_be_visible()
    screenshot(page, "search")
    results.get_by_role("link", name=re.compile(world.agent_order)).click()

    expect(page.get_by_test_id("order-status")).to_have_text("open")
    # AdvanceOrder released it and its task waits on the warehouse.
    expect(page.get_by_test_id("workflow-current")).to_contain_text("AdvanceOrder")
    expect(page.locator(".workflow g.node.current[data-state='AdvanceOrder']")).to_have_count(1)
    before = _order(stack, world.agent_order)
    total_before = page.get_by_test_id("current-total").inner_text()
    events_before = page.get_by_test_id("timeline").locator("li").count()
    screenshot(page, "order")

    page.get_by_role("button", name="Cancel…").click()
    page.get_by_label("units of TEE-CLASSIC-M to cancel").fill("1")
    page.locator("#cancel-form").get_by_label("Reason").fill("customer_request")
    page.locator("#cancel-form").get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("totals total")
    screenshot(page, "order-cancel-preview")
    # The preview changed nothing.
    assert _order(stack, world.agent_order)["current_totals"] == before["current_totals"]

    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Cancellation submitted")
    tee = page.get_by_test_id("lines").locator("tr[data-sku='TEE-CLASSIC-M']")
    expect(tee.get_by_test_id("cancelled")).to_have_text("1")
    expect(page.get_by_test_id("current-total")).not_to_have_text(total_before)
    expect(page.get_by_test_id("timeline")).to_contain_text("order.lines_cancelled")
    assert page.get_by_test_id("timeline").locator("li").count() > events_before
    screenshot(page, "order-after-cancel")

    after = _order(stack, world.agent_order)
    assert after["current_totals"]["total"] < before["current_totals"]["total"]
    assert page.get_by_test_id("current-total").inner_text() != total_before

    page.get_by_role("link", name=after["customer_id"]).click()
    expect(page.get_by_test_id("lifetime")).to_contain_text("orders")
    screenshot(page, "customer")


def test_a_problem_shows_its_title_and_field_errors(page: Page, stack: RunningStack, world: World) -> None:
    sign_in(page, stack, AGENT)
    page.goto(f"{stack.api_url}/console#/order/{world.agent_order}")
    expect(page.get_by_test_id("order-status")).to_be_visible()
    # A return of no units: the API answers 422 naming the field.
    page.get_by_role("button", name="Return or exchange…").click()
    page.locator("#return-form").get_by_label("Reason").fill("too_small")
    page.locator("#return-form").get_by_role("button", name="Preview").click()
    problem = page.get_by_test_id("problem")
    expect(problem.locator("strong")).to_have_text("Unprocessable request")
    expect(problem.locator("li code")).to_have_text("lines")
    screenshot(page, "problem")


def test_operator_retries_a_process_exception(page: Page, stack: RunningStack, world: World) -> None:
    sign_in(page, stack, OPS)
    page.get_by_role("link", name="Operations").click()
    row = page.locator(f"tr[data-exception='{world.exception_id}']")
    expect(row).to_contain_text("PaymentDispute")
    expect(page.get_by_test_id("backordered")).to_contain_text(world.backordered_order)
    screenshot(page, "operations")
    row.get_by_label(f"note for {world.exception_id}").fill("dispute answered")
    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_test_id("notice")).to_contain_text(f"{world.exception_id} retried")
    expect(row).to_have_count(0)
    response = requests.get(
        f"{stack.api_url}/v1/exceptions", params={"status": "retried"}, headers={"x-api-key": OPS}, timeout=60
    )
    assert world.exception_id in [e["exc_id"] for e in response.json()["items"]]

    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_test_id("reports")).to_have_attribute("data-ready", "yes")
    expect(page.get_by_test_id("reorder")).to_contain_text("reorder point")
    screenshot(page, "reports")


def test_warehouse_key_ships_a_fulfillment_order(page: Page, stack: RunningStack, world: World) -> None:
    sign_in(page, stack, WMS)
    expect(page.get_by_role("heading", name="Warehouse")).to_be_visible()
    # A warehouse key sees no order pages.
    expect(page.get_by_role("link", name="Orders")).to_have_count(0)
    (fo,) = [f for f in _order(stack, world.warehouse_order)["fulfillment_orders"] if f["status"] == "allocated"]
    row = page.locator(f"tr[data-fo='{fo['fo_id']}']")
    expect(row.get_by_test_id("fo-status")).to_have_text("allocated")
    screenshot(page, "warehouse")

    row.get_by_role("button", name="Pick list").click()
    expect(page.frame_locator("#picklist-frame").locator("h1")).to_contain_text(fo["fo_id"])
    screenshot(page, "warehouse-pick-list")

    for step, status in (("Accept", "accepted"), ("Pick", "picked"), ("Pack", "packed")):
        row.get_by_role("button", name=step, exact=True).click()
        expect(row.get_by_test_id("fo-status")).to_have_text(status)
    row.get_by_label("Tracking number").fill(f"TRK-{world.run}-W")
    row.get_by_role("button", name="Ship").click()
    expect(row.get_by_test_id("fo-status")).to_have_text("fulfilled")
    screenshot(page, "warehouse-shipped")
    shipments = _order(stack, world.warehouse_order)["shipments"]
    assert [s["tracking_number"] for s in shipments] == [f"TRK-{world.run}-W"]


def test_a_channel_key_cannot_see_another_channels_order(page: Page, stack: RunningStack, world: World) -> None:
    sign_in(page, stack, WEB)
    expect(page.get_by_test_id("principal")).to_contain_text("web")
    page.goto(f"{stack.api_url}/console#/order/{world.app_order}")
    problem = page.get_by_test_id("problem")
    expect(problem).to_contain_text("404")
    expect(page.get_by_test_id("order-status")).to_have_count(0)
    screenshot(page, "channel-other-order")
    page.goto(f"{stack.api_url}/console#/search")
    expect(page.get_by_test_id("order-list")).to_contain_text(world.agent_order)
    expect(page.get_by_test_id("order-list")).not_to_contain_text(world.app_order)
    # The app channel sees its own.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, stack, APP)
    page.goto(f"{stack.api_url}/console#/order/{world.app_order}")
    expect(page.get_by_test_id("order-status")).to_be_visible()
