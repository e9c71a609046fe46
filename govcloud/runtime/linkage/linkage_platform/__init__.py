"""The data linkage platform's pipeline, shared by the API and file handlers (see ``linkage.py``)."""
