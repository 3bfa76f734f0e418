"""Feeds as users read them: flat feeds, aggregated and notification feeds, hybrid reads.

Above storage, below the application: a feed class declares a key format,
a length and an aggregator, and reads and writes through a storage backend.
Inside, registry > aggregated > flat > hybrid (checked by import-linter).
"""
