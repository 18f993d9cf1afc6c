"""Checks the example bundle's job runs on its own tables."""
