"""The apps test_static_server.py serves: the static site of ``ZEPHYR_IT_STATIC_ROOT``.

``app`` serves its ``static`` folder as configured by default; ``compressed``
does the same with ``COMPRESSION`` on.
"""

from __future__ import annotations

import os

from zephyr import Zephyr

ROOT_ENV = "ZEPHYR_IT_STATIC_ROOT"
# Imported by the tests for ROOT_ENV too, where no site is set: then there is no folder.
ROOT = os.environ.get(ROOT_ENV, os.path.dirname(__file__))

app = Zephyr(__name__, root_path=ROOT)
compressed = Zephyr(__name__, root_path=ROOT, compression=True)
