"""`make bench`: codec and ACA per-certificate benchmarks beside OpenSSL's own speed, in one run.

Run with ``python -m bench`` (``--quick`` for fewer iterations, ``--json FILE`` to save the
results). Nothing here runs in ``make test``; ``tests/unit/test_bench_smoke.py`` runs each
benchmark body once with tiny counts to keep it working.
"""
