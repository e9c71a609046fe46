"""Compliance packs that run on every synth, and the one way this project acknowledges a finding."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import IConstruct

from govcloud.compliance.plugin import GovCloudRules
from govcloud.compliance.rules import PACK_NAME, Settings
from govcloud.config import MANAGED_BY, Config
from govcloud.config.network import MY_NUMBER_SEGMENT

# Guard against reasons that say nothing a reviewer could check.
MIN_REASON_LENGTH = 40
# Template metadata key under which Government Cloud acknowledgements are written (cdk-nag uses "cdk_nag").
GOVCLOUD_METADATA_KEY = "govcloud"


def settings_for(cfg: Config) -> Settings:
    """What the Government Cloud rules need to know about one environment."""
    return Settings(
        production=cfg.is_production,
        environment=cfg.name,
        municipality=cfg.municipality_tag,
        min_log_retention_days=cfg.logging.retention_days,
        allowed_ingress_cidrs=(*cfg.known_cidrs, *cfg.osaka_cidrs),
        managed_by=MANAGED_BY,
        allowed_segment_pairs=tuple((a, b) for a, b in cfg.network.allowed_segment_pairs),
        closed_segments=(MY_NUMBER_SEGMENT,),
    )


def packs(scope: IConstruct, settings: Settings) -> list[cdk.IPolicyValidationPlugin]:
    """The rule packs every synth runs. cdk-nag writes its suppressions into ``Metadata.cdk_nag``."""
    return [
        AwsSolutionsChecks(scope, write_suppressions_to_cloud_formation=True),
        NIST80053R5Checks(scope, write_suppressions_to_cloud_formation=True),
        GovCloudRules(settings),
    ]


def register(stage: cdk.Stage, settings: Settings) -> None:
    """Register the packs on one environment's stage.

    The packs must be created with the stage as their scope: cdk-nag writes acknowledgements into the
    templates through an aspect, and an aspect added to the app does not reach into a nested stage.
    """
    cdk.Validations.of(stage).add_plugins(*packs(stage, settings))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding of one rule on one construct (and its children), with a reason a reviewer can check.

    ``rule`` is a bare rule id (``AwsSolutions-S1``) or a granular one (``AwsSolutions-IAM5[Action::s3:*]``).
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgement of {rule} on {construct.node.path}: give a reason a reviewer can check")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
    if rule.startswith(f"{PACK_NAME}::"):
        _record_in_template(construct, rule.removeprefix(f"{PACK_NAME}::"), reason)


def acknowledge_wildcards(construct: IConstruct, statements: Iterable[iam.PolicyStatement], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for each wildcard resource or action of ``statements``, one granular finding at
    a time, so that a wildcard added later is still caught. Only literal strings can be named: write ARNs with
    wildcards from deterministic names, not from tokens (a token's wildcard stays unacknowledged and fails)."""
    seen: set[str] = set()
    for statement in statements:
        document = statement.to_statement_json()
        for key, kind in (("Resource", "Resource"), ("Action", "Action")):
            values = document.get(key, [])
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and "*" in value and value not in seen and not cdk.Token.is_unresolved(value):
                    seen.add(value)
                    acknowledge(construct, f"AwsSolutions-IAM5[{kind}::{value}]", reason)


def _record_in_template(construct: IConstruct, rule: str, reason: str) -> None:
    """Write a Government Cloud acknowledgement into the template, as cdk-nag does for its own."""
    entry = {"id": rule, "reason": reason}
    if isinstance(construct, cdk.Stack):
        construct.add_metadata(GOVCLOUD_METADATA_KEY, {"rules_acknowledged": [entry]})
        return
    for child in construct.node.find_all():
        if isinstance(child, cdk.CfnResource):
            existing = child.get_metadata(GOVCLOUD_METADATA_KEY) or {"rules_acknowledged": []}
            child.add_metadata(GOVCLOUD_METADATA_KEY, {"rules_acknowledged": [*existing["rules_acknowledged"], entry]})


REPORT_FILES = ("validation-report.json", "policy-validation-report.json")


def report_failures(assembly_dir: str | Path) -> list[str]:
    """Unacknowledged findings in the validation report of a synthesized assembly, one line each.

    The CDK CLI (2.1148) asks the app only to write this report (``@aws-cdk/core:failSynthOnValidationErrors``
    is false) and then does not act on it, so ``cdk synth`` would exit 0 with findings. ``app.py`` reads the
    report itself and fails the synth, whichever way the app was started.
    """
    for name in REPORT_FILES:
        path = Path(assembly_dir) / name
        if path.is_file():
            report = json.loads(path.read_text(encoding="utf-8"))
            break
    else:
        return []
    lines = []
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                lines.append(
                    f"{plugin.get('pluginName')} {violation.get('ruleName')} ({violation.get('severity')}) "
                    f"on {construct.get('constructPath')}: {violation.get('description')}"
                )
        if plugin.get("conclusion") == "failure" and not plugin.get("violations"):
            lines.append(f"{plugin.get('pluginName')}: failed without violations: {plugin.get('metadata')}")
    return lines


def synth_checked(app: cdk.App, stream: TextIO = sys.stderr) -> int:
    """Synthesize ``app`` and return a process exit code: 1 if any pack has an unacknowledged finding."""
    try:
        assembly_dir = app.synth().directory
    except RuntimeError as error:  # raised when the app is run without the CLI
        if "ValidationFailed" not in str(error):
            raise
        assembly_dir = app.outdir
    failures = report_failures(assembly_dir)
    if failures:
        print(f"error: {len(failures)} unacknowledged compliance finding(s):", file=stream)
        for line in failures:
            print(f"  {line}", file=stream)
        print("Fix the resource, or acknowledge one rule on one construct with a reason (see README).", file=stream)
        return 1
    return 0
