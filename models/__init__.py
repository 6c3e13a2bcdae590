"""The shipped digit models (installed as the ``edge.models`` package data)."""
