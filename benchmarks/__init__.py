"""Benchmarks: what a check costs, how the cost grows, and what it does to a real server.

Not part of the test suite. Run everything with ``python -m benchmarks`` (see
``docs/performance.md``); ``python -m benchmarks --help`` lists the options.
The scripts start their own redis-server and memcached on free loopback ports.
"""
