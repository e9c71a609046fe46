#!/usr/bin/env python3
"""CDK app of the Kobe City Government Cloud landing zone.

Choose the environment with ``-c env=NAME`` (reads ``config/NAME.toml``; default ``kobe-stg``) or any file
with ``-c config=PATH``. This is the only place that reads the process environment or the CDK context.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from govcloud.compliance import packs as compliance
from govcloud.config import ConfigError, load, resolve
from govcloud.stage import GovCloudStage


def main() -> int:
    app = cdk.App()
    try:
        cfg = load(resolve(app.node.try_get_context("env"), app.node.try_get_context("config")))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    compliance.register(GovCloudStage(app, cfg), compliance.settings_for(cfg))
    return compliance.synth_checked(app)


if __name__ == "__main__":
    sys.exit(main())
