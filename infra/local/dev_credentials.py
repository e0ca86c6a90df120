"""Development credentials of the local stack. Public on purpose: never use them in the cloud.

In the cloud the same records live in the Secrets Manager secret ``ApiKeys`` (only the
SHA-256 of each key is stored), and webhook secrets in their own secrets.
"""

from __future__ import annotations

import hashlib
import json

# key -> principal. role: channel | wms | agent | ops
DEV_API_KEYS: dict[str, dict[str, object]] = {
    "dev-web-key": {"principal_id": "channel-web", "role": "channel", "channel": "web"},
    "dev-app-key": {"principal_id": "channel-app", "role": "channel", "channel": "app"},
    "dev-pos-key": {"principal_id": "channel-pos", "role": "channel", "channel": "pos"},
    "dev-marketplace-key": {
        "principal_id": "channel-marketplace",
        "role": "channel",
        "channel": "marketplace",
    },
    "dev-wms-key": {
        "principal_id": "wms-main",
        "role": "wms",
        "locations": ["wh-east", "wh-west", "wh-central"],
    },
    # A second warehouse system: the Paris warehouse and the shops that ship.
    "dev-stores-key": {
        "principal_id": "wms-stores",
        "role": "wms",
        "locations": [
            "wh-paris",
            "store-berlin-mitte",
            "store-hamburg",
            "store-munich",
            "store-cologne",
            "store-vienna",
            "store-milan",
        ],
    },
    "dev-agent-key": {"principal_id": "agent-1", "role": "agent"},
    "dev-ops-key": {"principal_id": "ops-1", "role": "ops"},
}

DEV_WEBHOOK_SECRETS: dict[str, str] = {
    "easypost": "dev-easypost-secret",
    "aftership": "dev-aftership-secret",
    "generic": "dev-generic-carrier-secret",
    "sandbox": "dev-sandbox-payments-secret",
    "stripe": "whsec_dev_stripe_secret",
}


# The Admin API of the development shop: the fake one the demo runs (demo/fake_shopify.py).
DEV_SHOPIFY_ADMIN_PORT = 4580
DEV_SHOPIFY_ADMIN_TOKEN = "shpat_dev_local_only"

# Sales platforms' shops: the shop's webhook secret, the OMS channel its orders belong to, and
# the Admin API token (and, locally, URL) that shipments, cancellations and refunds go back to.
DEV_CHANNEL_SHOPS: dict[str, dict[str, dict[str, str]]] = {
    "shopify": {
        "dev-shop.myshopify.com": {
            "webhook_secret": "dev-shopify-app-secret",
            "channel": "shopify",
            "payment_provider": "sandbox",
            "admin_token": DEV_SHOPIFY_ADMIN_TOKEN,
            "admin_api_url": f"http://127.0.0.1:{DEV_SHOPIFY_ADMIN_PORT}/admin/api/2025-01/graphql.json",
        }
    },
    # commercetools projects by project key: their Messages arrive on the CommercetoolsMessages queue.
    "commercetools": {"dev-project": {"channel": "commercetools", "payment_provider": "sandbox"}},
}

CARRIERS = ("easypost", "aftership", "generic")
PAYMENT_PROVIDERS = ("sandbox", "stripe")
# A Stripe test-mode key shape; the local stack never reaches Stripe (tests replay recorded responses).
DEV_STRIPE_API_KEY = "sk_test_dev_local_only"
# PayPal REST app credentials; the local stack's PayPal is a fake PayPal API on a loopback
# port, run by the tests that need it (tests/fakes/paypal_api.py), never PayPal itself.
DEV_PAYPAL_API_PORT = 4581
DEV_PAYPAL = {
    "client_id": "dev-paypal-client-id",
    "client_secret": "dev-paypal-client-secret",
    "webhook_id": "DEVPAYPALWEBHOOK1",
    "api_base": f"http://127.0.0.1:{DEV_PAYPAL_API_PORT}",
}
# The key pickup codes are derived from (shared/integration_secrets.py).
DEV_PICKUP_CODE_KEY = "dev-pickup-code-key"


def integration_secrets_string() -> str:
    """The IntegrationSecrets JSON of the local stack (shared/integration_secrets.py)."""
    payments: dict[str, dict[str, str]] = {p: {"webhook_secret": DEV_WEBHOOK_SECRETS[p]} for p in PAYMENT_PROVIDERS}
    payments["stripe"]["api_key"] = DEV_STRIPE_API_KEY
    payments["paypal"] = dict(DEV_PAYPAL)
    carriers = {c: DEV_WEBHOOK_SECRETS[c] for c in CARRIERS}
    pickup = {"code_key": DEV_PICKUP_CODE_KEY}
    return json.dumps({"carriers": carriers, "payments": payments, "channels": DEV_CHANNEL_SHOPS, "pickup": pickup})


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_keys_secret_string() -> str:
    """The secret's JSON, in the format the authorizer reads."""
    return json.dumps({"keys": [{"key_sha256": key_hash(k), **principal} for k, principal in DEV_API_KEYS.items()]})
