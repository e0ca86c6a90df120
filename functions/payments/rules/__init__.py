"""The pure rules of payments: the ledger's arithmetic and the payment summary of an order."""
