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


# Sales platforms' shops: the shop's webhook secret and the OMS channel its orders belong to.
DEV_CHANNEL_SHOPS: dict[str, dict[str, dict[str, str]]] = {
    "shopify": {
        "dev-shop.myshopify.com": {
            "webhook_secret": "dev-shopify-app-secret",
            "channel": "shopify",
            "payment_provider": "sandbox",
        }
    }
}

CARRIERS = ("easypost", "aftership", "generic")
PAYMENT_PROVIDERS = ("sandbox", "stripe")
# A Stripe test-mode key shape; the local stack never reaches Stripe (tests replay recorded responses).
DEV_STRIPE_API_KEY = "sk_test_dev_local_only"
# The key pickup codes are derived from (shared/integration_secrets.py).
DEV_PICKUP_CODE_KEY = "dev-pickup-code-key"


def integration_secrets_string() -> str:
    """The IntegrationSecrets JSON of the local stack (shared/integration_secrets.py)."""
    payments: dict[str, dict[str, str]] = {p: {"webhook_secret": DEV_WEBHOOK_SECRETS[p]} for p in PAYMENT_PROVIDERS}
    payments["stripe"]["api_key"] = DEV_STRIPE_API_KEY
    carriers = {c: DEV_WEBHOOK_SECRETS[c] for c in CARRIERS}
    pickup = {"code_key": DEV_PICKUP_CODE_KEY}
    return json.dumps({"carriers": carriers, "payments": payments, "channels": DEV_CHANNEL_SHOPS, "pickup": pickup})


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_keys_secret_string() -> str:
    """The secret's JSON, in the format the authorizer reads."""
    return json.dumps({"keys": [{"key_sha256": key_hash(k), **principal} for k, principal in DEV_API_KEYS.items()]})
