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

from govcloud.compliance.rules import PACK_NAME, RULES, RULES_BY_ID, Settings, Stack, evaluate

VERSION = "1.0.0"


def _termination_protection(template_path: Path) -> bool:
    manifest_path = template_path.parent / "manifest.json"
    if not manifest_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for artifact in manifest.get("artifacts", {}).values():
        properties = artifact.get("properties", {})
        if properties.get("templateFile") == template_path.name:
            return bool(properties.get("terminationProtection", False))
    return False


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
        for stack_template in context.stack_templates:
            path = Path(stack_template.template_path)
            template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            stack = Stack(
                name=stack_template.stack_construct_path,
                region=stack_template.region or "",
                template=template,
                termination_protection=_termination_protection(path),
            )
            for finding in evaluate(stack, self._settings):
                if finding.logical_id is None:
                    resource = cdk.PolicyViolatingResource(
                        construct_path=stack_template.stack_construct_path, template_path=str(path), locations=[]
                    )
                else:
                    resource = cdk.PolicyViolatingResource(
                        resource_logical_id=finding.logical_id, template_path=str(path), locations=[finding.path]
                    )
                by_rule[finding.rule].append(resource)
                details[finding.rule].append(finding.detail)
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
