"""One module per stack: composition only; the building blocks live in ``govcloud.constructs``."""
