"""The default app with the cdk-nag packs only: ``make bench`` compares it with ``app.py`` to measure what the
Government Cloud rule pack adds to a synth (budget: at most 10 %)."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from govcloud.compliance import packs as compliance
from govcloud.config import load, resolve
from govcloud.stage import GovCloudStage


def main() -> int:
    app = cdk.App()
    stage = GovCloudStage(app, load(resolve(None, None)))
    cdk.Validations.of(stage).add_plugins(
        AwsSolutionsChecks(stage, write_suppressions_to_cloud_formation=True),
        NIST80053R5Checks(stage, write_suppressions_to_cloud_formation=True),
    )
    return compliance.synth_checked(app)


if __name__ == "__main__":
    sys.exit(main())
