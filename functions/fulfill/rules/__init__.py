"""The fulfill domain's pure rules: fulfillment order statuses and line units, views."""
