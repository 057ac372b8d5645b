"""Helpers shared by test modules: no test module imports another test module (or benchmark
code); whatever two of them need lives here (tests/unit/repo/test_test_layout.py checks)."""
