"""Build step for specc's one C extension (everything else is in pyproject.toml).

``specc.contract._fastscan`` speeds up ``specc check`` (see specc/contract/native.py). It is optional: without a
C compiler the build skips it and specc runs the pure-Python code, which gives the same results.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("specc.contract._fastscan", ["specc/contract/_fastscan.c"], optional=True,
                             extra_compile_args=["-O2"])])
