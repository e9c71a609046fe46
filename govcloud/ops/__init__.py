"""Tools for a deployed environment, on boto3, driven by the same config file as the stacks.

``python -m govcloud.ops SUBCOMMAND -c env=NAME`` (or ``-c config=PATH``). No CDK import: these run against
accounts, not against templates.
"""
