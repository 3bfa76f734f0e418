"""streamfeed.consumers: the Faust agents, the worker runtime, worker processes and their pool.

Above the Kafka edge; the same steps as inline mode, run from the topics.
"""
