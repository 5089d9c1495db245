"""The spec language's JSON Schema, for editors (yaml-language-server) and other tools.

Generated from the pydantic models, so the schema, the validator and the documentation cannot drift apart.
A copy is committed at ``schema/specc-1.schema.json`` (a test keeps it current) so that a spec can point its
``# yaml-language-server: $schema=...`` header at it without running specc; ``specc init`` writes one next
to each new spec (:data:`SCHEMA_FILE`).
"""

from __future__ import annotations

import json

from specc.spec.language import SCHEMA_VERSION, Spec

SCHEMA_ID = f"https://specc.dev/schema/specc-{SCHEMA_VERSION}.schema.json"
"""The schema's identifier (JSON Schema ``$id``): a name, not an address editors can fetch."""

SCHEMA_FILE = f"specc-{SCHEMA_VERSION}.schema.json"
"""The file name ``specc init`` writes next to a new spec, and the starter's ``$schema`` header names
(a path relative to the spec, which the YAML language server resolves from the spec's directory)."""


def json_schema() -> dict:
    schema = Spec.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
