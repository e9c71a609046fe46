"""Review tools: read a cloud assembly (``cdk.out``) as JSON and never import CDK, so they are fast and run on
any synthesized output. ``python -m govcloud.review report CDK_OUT`` and ``... changes OLD NEW``."""
