"""Shared test data, fakes and fixture plugins; nothing here is collected as a test.

The fixture plugins (``redis_fixtures``, ``emulator``, ``bridge``, ``browser``) are listed in
``tests/conftest.py``; the other modules are imported by the tests that need them.
"""
