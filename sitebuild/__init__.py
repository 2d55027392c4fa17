"""The steps that build.py runs, in order, to assemble dist/ (one module per step).

Each step module has pure functions (inputs -> {path: bytes} and provenance strings) that
the tests call alone, and a ``step(site)`` that reads what earlier steps put in the
shared :class:`~sitebuild.common.Site` and adds its own files. build.py lists the steps.
"""
