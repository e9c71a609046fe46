"""Kobe City Government Cloud landing zone (AWS CDK, Python)."""
