"""Benchmarks: run by hand (see README), never by the test suite."""
