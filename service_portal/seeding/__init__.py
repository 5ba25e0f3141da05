"""The demo data set: loading seed/ files and generating shops for benchmarks."""
