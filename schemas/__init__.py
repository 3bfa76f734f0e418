"""streamfeed.schemas: the Avro schemas, their catalog and codec, and StreamfeedError.

The lowest layer: every other one may import it, it imports none of them.
"""
