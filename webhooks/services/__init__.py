"""Writes of the webhooks app: `endpoints` (create, edit, enable/disable, new secret, delete)
and `deliveries` (recording through the outbox, fan-out, attempts, redelivery, the sweep)."""
