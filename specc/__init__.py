"""specc: a declarative experiment-spec compiler for adapting language models.

The package is split so that the light commands (validate, plan, diff, schema, compile, check)
only ever import the standard library, pydantic, PyYAML, click and jinja2. Everything that needs
the training stack lives under :mod:`specc.runtime` and is imported only by emitted scripts.
"""

__version__ = "0.1.0"
