"""Build step for specc's one C extension (everything else is in pyproject.toml).

``specc.contract._fastscan`` speeds up ``specc check`` (see specc/contract/native.py). It is optional: without a
C compiler the build skips it and specc runs the pure-Python code, which gives the same results.

The module is built with the SHA-256 of its C source in it (``SOURCE_SHA256``): an editable install keeps the
built module beside the source, so after a ``git pull`` that changes the C code without a rebuild the module
would be stale; :mod:`specc.contract.native` compares the two and uses the Python code when they differ.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "specc/contract/_fastscan.c"
SOURCE_SHA256 = hashlib.sha256((Path(__file__).resolve().parent / SOURCE).read_bytes()).hexdigest()

setup(ext_modules=[Extension("specc.contract._fastscan", [SOURCE], optional=True, extra_compile_args=["-O2"],
                             define_macros=[("SPECC_SOURCE_SHA256", f'"{SOURCE_SHA256}"')])])
