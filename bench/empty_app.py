"""The benchmark's baseline: one environment stage with one empty stack and the same packs registered."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from govcloud.compliance import packs as compliance
from govcloud.compliance.rules import Settings

TEST_SETTINGS = Settings(production=False, environment="test", municipality="Kobe-281000", min_log_retention_days=1)


def main() -> int:
    app = cdk.App()
    stage = cdk.Stage(app, "Empty", env=cdk.Environment(account="111111111111", region="ap-northeast-1"))
    stack = cdk.Stack(stage, "Empty")
    # CloudFormation itself refuses a template without resources; this stack is only ever synthesized.
    compliance.acknowledge(
        stack, "CloudFormation Validate::F0001", "Benchmark baseline: an empty stack that is never deployed."
    )
    compliance.register(stage, TEST_SETTINGS)
    return compliance.synth_checked(app)


if __name__ == "__main__":
    sys.exit(main())
