"""The Kafka edge: topics, the producer and Kafka driver, offsets, lag and message sizing.

Above the application (it publishes what the application plans) and below
the consumers that run on it.
"""
