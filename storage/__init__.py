"""streamfeed.storage: the storage contract (base) and its backends, memory, Redis and Cassandra.

Above the domain, whose types it stores, and below the feeds; the contract
suite (tests/contract) runs over every backend.
"""
