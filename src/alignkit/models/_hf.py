"""Placeholder: filled in by the adapter work."""
