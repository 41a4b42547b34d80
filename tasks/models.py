"""Tasks models."""
