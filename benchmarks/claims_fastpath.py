"""Claims of the fastpath branch (issue 18) for benchmarks/margins.py.

None: the fast path asserts exactness (max |logit difference| < 1e-4 against the plain model, occlusion maps
within 1e-5), which is deterministic float arithmetic, not the outcome of an optimisation or training; speed
is never asserted (benchmarks/README.md reports it).
"""
CLAIMS: list = []
