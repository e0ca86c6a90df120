"""The lifecycle domain keeps no items of its own.

Each step it composes reads and writes through its own domain (allocations, the hold gate's
screening, the payment ledger, fulfillment orders), and every status those steps move goes
through the order kernel (``shared.order.state.HeaderUpdate``). A composite step therefore
adds no write of its own: a sub-step that finds nothing to do writes nothing.
"""

from __future__ import annotations
