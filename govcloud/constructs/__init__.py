"""Reusable building blocks with secure defaults."""
