"""The spec language: what a user writes (pydantic models), the located loader, the JSON Schema and the starter."""
