"""The demo and the generated worlds the demo, tests and benchmarks share."""
