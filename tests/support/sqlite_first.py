"""Loaded before test collection (pyproject: addopts = "-p tests.support.sqlite_first").

TensorFlow ships its own SQLite without FTS5; when a test module imports TensorFlow before
Python's sqlite3 extension is loaded, every later SQLite connection in the test process gets
TensorFlow's copy and the catalogue's full-text search migration fails with "no such module:
fts5". Loading sqlite3 first binds Python to the system library. (The `vitrina` commands open
and migrate the catalogue before they load TensorFlow.)
"""

import sqlite3  # noqa: F401

# Where Python's sqlite3 cannot load extensions the catalogue uses sqlean.py (catalog.vectors);
# it must bind to its own SQLite before TensorFlow's copy is loaded, for the same reason.
from catalog.vectors import sqlite_dbapi  # noqa: E402

sqlite_dbapi()
