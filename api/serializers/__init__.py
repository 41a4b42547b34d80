"""API representations, one module per resource: snake_case fields, RFC 3339 UTC times."""
