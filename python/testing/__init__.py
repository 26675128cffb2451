"""Test support for the tests, the soak and the benchmarks (never imported by the daemon).

stack: the real stack that `make up` started (configuration, connections, scratch
databases, agents, real daemon processes); daemon: the daemon's entry point with an
injected test encoder (``python -m testing.daemon --poison-marker X``)."""
