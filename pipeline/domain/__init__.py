"""The domain: activities, verbs, ids, events, aggregation, follow state and author modes.

Pure model and planning, the bottom of the stack with settings: it imports
only streamfeed.schemas and the standard library, and reaches no Kafka,
Faust, HTTP, CLI or database library even indirectly (pyproject.toml's
import contracts), so every layer above can trust it and tests need no server.
"""
