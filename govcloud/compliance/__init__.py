"""Compliance: the packs that run on every synth (``packs``, imports CDK) and the Government Cloud rules
(``rules``, pure JSON, shared with the review tools, which must not import CDK)."""
