"""The time bank's domain: models, ledger, services. Knows nothing about Telegram."""
