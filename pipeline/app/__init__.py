"""The application: what a feed app declares, the pipeline's steps, the inline driver, Manager.

The steps take a FeedApplication (the declarative half of a Manager), not
the Manager, so the Manager can drive them inline while Faust agents drive
the same functions from Kafka. Inside, manager > inline > steps > application.
"""
