"""The Government Cloud rule pack as a CDK policy-validation plugin.

It reads each synthesized template as JSON (milliseconds for the whole app, against about 4.5 ms per rule and
resource for a cdk-nag ``NagPack`` in Python) and reports through the same validation report as cdk-nag.
Findings are acknowledged like any other: ``acknowledge(construct, "GovCloud::GC-S3-1", reason)``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

from govcloud.compliance.rules import (
    PACK_NAME,
    RULES,
    RULES_BY_ID,
    Finding,
    Settings,
    Stack,
    evaluate,
    evaluate_stage,
)

VERSION = "1.0.0"


def _manifest_properties(template_path: Path) -> dict[str, Any]:
    """The stack's properties in the assembly manifest (termination protection, CloudFormation stack name)."""
    manifest_path = template_path.parent / "manifest.json"
    if not manifest_path.is_file():
        return {}
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for artifact in manifest.get("artifacts", {}).values():
        properties = artifact.get("properties", {})
        if properties.get("templateFile") == template_path.name:
            return dict(properties)
    return {}


@jsii.implements(cdk.IPolicyValidationPlugin)
class GovCloudRules:
    """Runs :data:`govcloud.compliance.rules.RULES` over every template of the stage it is registered on."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def name(self) -> str:
        return PACK_NAME

    @property
    def version(self) -> str:
        return VERSION

    @property
    def rule_ids(self) -> list[str]:
        return [rule.id for rule in RULES]

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        by_rule: dict[str, list[cdk.PolicyViolatingResource]] = defaultdict(list)
        details: dict[str, list[str]] = defaultdict(list)
        stacks: list[Stack] = []
        paths: dict[str, Path] = {}

        def report(stack_path: str, finding: Finding) -> None:
            path = paths[stack_path]
            if finding.logical_id is None:
                resource = cdk.PolicyViolatingResource(construct_path=stack_path, template_path=str(path), locations=[])
            else:
                resource = cdk.PolicyViolatingResource(
                    resource_logical_id=finding.logical_id, template_path=str(path), locations=[finding.path]
                )
            by_rule[finding.rule].append(resource)
            details[finding.rule].append(finding.detail)

        for stack_template in context.stack_templates:
            path = Path(stack_template.template_path)
            template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            properties = _manifest_properties(path)
            stack = Stack(
                name=stack_template.stack_construct_path,
                region=stack_template.region or "",
                template=template,
                termination_protection=bool(properties.get("terminationProtection", False)),
                stack_name=str(properties.get("stackName", "")),
            )
            stacks.append(stack)
            paths[stack.name] = path
            for finding in evaluate(stack, self._settings):
                report(stack.name, finding)
        for stack_path, finding in evaluate_stage(stacks, self._settings):
            report(stack_path, finding)
        violations = [
            cdk.PolicyViolation(
                rule_name=rule_id,
                description=f"{RULES_BY_ID[rule_id].info}: {'; '.join(sorted(set(details[rule_id])))}",
                fix=RULES_BY_ID[rule_id].explanation,
                severity="error",
                violating_resources=resources,
                rule_metadata={"control": RULES_BY_ID[rule_id].control},
            )
            for rule_id, resources in by_rule.items()
        ]
        return cdk.PolicyValidationPluginReport(success=not violations, violations=violations, plugin_version=VERSION)
