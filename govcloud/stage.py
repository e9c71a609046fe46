"""One environment (staging, production, ...) as one CDK Stage, composed from its config."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from govcloud.config import MANAGED_BY, Config, pascal
from govcloud.stacks.baseline import SecurityBaselineStack
from govcloud.stacks.log_archive import LogArchiveStack


class GovCloudStage(cdk.Stage):
    """All stacks of one environment. Stack names are ``<Env>-<Part>[-<suffix>]``, e.g. ``KobeStg-LogArchive``."""

    def __init__(self, scope: Construct, cfg: Config) -> None:
        super().__init__(scope, cfg.prefix)
        self.cfg = cfg
        tags = cdk.Tags.of(self)
        tags.add("Municipality", cfg.municipality_tag)
        tags.add("Environment", cfg.name)
        tags.add("ManagedBy", MANAGED_BY)
        for key, value in sorted(cfg.tags.items()):
            tags.add(key, value)

        self.log_archive = LogArchiveStack(self, "LogArchive", cfg=cfg)
        self.baselines: dict[str, SecurityBaselineStack] = {}
        for role in cfg.accounts:
            baseline = SecurityBaselineStack(self, f"Baseline-{pascal(role)}", cfg=cfg, role=role)
            # The account's trail and Config recorder write into the log archive, which must exist first.
            baseline.add_stack_dependency(self.log_archive)
            self.baselines[role] = baseline
