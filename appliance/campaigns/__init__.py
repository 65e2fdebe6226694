"""Campaigns: many outbound calls from one list, placed within each callee's calling hours, retried by outcome,
never dialled twice (the use case between the API and the store, dialer and outbox)."""
