"""Compliance on every synth: both packs pass over the whole app, acknowledgements are specific and written
into the templates, and an unacknowledged finding fails ``cdk synth`` through the CLI."""

from __future__ import annotations

import json
import re

import pytest
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from govcloud.compliance import packs as compliance
from tests.support import ROOT, run_cdk

ACK_ID = re.compile(
    r"^((AwsSolutions|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[[^\]]+\])?|CloudFormation-Validate::[EFW][0-9]{4})$"
)


@pytest.mark.parametrize("pack", [AwsSolutionsChecks, NIST80053R5Checks], ids=["AwsSolutions", "NIST80053R5"])
@pytest.mark.parametrize("variant", ["stg", "prod", "services_on"])
def test_pack_finds_nothing_unacknowledged(request, pack, variant) -> None:
    synth = request.getfixturevalue(variant)
    result = pack().validate_scope(synth.app)
    found = [(v.rule_name, [r.resource_logical_id for r in v.violating_resources]) for v in result.violations]
    assert found == []


def test_pack_catches_a_violation(stg) -> None:
    """The same call on a non-compliant app does report: the check above can fail."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    app = cdk.App()
    s3.Bucket(cdk.Stack(app, "S"), "B")
    names = {v.rule_name for v in AwsSolutionsChecks().validate_scope(app).violations}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= names


def test_validation_report_is_clean(stg, prod, services_on) -> None:
    for synth in (stg, prod, services_on):
        assert compliance.report_failures(synth.outdir) == []


def test_every_acknowledgement_is_one_rule_with_a_checkable_reason(stg, services_on) -> None:
    count = 0
    for synth in (stg, services_on):
        for stack, lid, resource in synth.all_resources():
            for ack in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                assert ACK_ID.match(ack["id"]), (stack, lid, ack["id"])
                assert len(ack["reason"]) >= compliance.MIN_REASON_LENGTH, (stack, lid, ack)
                assert "applies_to" not in ack
                count += 1
    assert count > 20


def test_acknowledgements_are_scoped_to_resources_not_stacks(stg) -> None:
    import aws_cdk as cdk

    acknowledged = [
        c
        for c in stg.stage.node.find_all()
        if any(m.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY for m in c.node.metadata)
    ]
    assert acknowledged
    assert not [c.node.path for c in acknowledged if isinstance(c, (cdk.Stack, cdk.Stage))]


def test_acknowledge_requires_a_reason(stg) -> None:
    with pytest.raises(ValueError, match="give a reason a reviewer can check"):
        compliance.acknowledge(stg.stage, "AwsSolutions-S1", "ok")


@pytest.mark.parametrize(
    ("broken", "rule"),
    [
        ("AwsSolutions", "AwsSolutions-S1"),
        ("NIST.800.53.R5", "NIST.800.53.R5-S3BucketLoggingEnabled"),
        ("GovCloud", "GC-S3-4"),
    ],
)
def test_unacknowledged_finding_fails_cli_synth(tmp_path, broken: str, rule: str) -> None:
    result = run_cdk(
        "synth",
        "--quiet",
        "--app",
        "python tests/fixtures/broken_app.py",
        "-c",
        f"broken={broken}",
        "-o",
        str(tmp_path),
    )
    assert result.returncode != 0
    assert "1 unacknowledged compliance finding(s)" in result.stderr
    assert f"{broken} {rule} (error) on Broken/Stack/Bucket/Resource" in result.stderr


def test_same_app_with_the_finding_acknowledged_passes(tmp_path) -> None:
    result = run_cdk(
        "synth", "--quiet", "--app", "python tests/fixtures/broken_app.py", "-c", "broken=none", "-o", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    template = json.loads(next(tmp_path.glob("assembly-Broken/*.template.json")).read_text())
    acks = template["Resources"]["Bucket83908E77"]["Metadata"]["cdk_nag"]["rules_to_suppress"]
    assert {a["id"] for a in acks} >= {"AwsSolutions-S1", "NIST.800.53.R5-S3BucketLoggingEnabled"}
    govcloud_acks = template["Resources"]["Bucket83908E77"]["Metadata"]["govcloud"]["rules_acknowledged"]
    assert {a["id"] for a in govcloud_acks} == {"GC-S3-4", "GC-TAG-1"}
    assert ROOT.joinpath("tests/fixtures/broken_app.py").is_file()


def test_rule_catalogue_is_current_in_both_languages() -> None:
    from govcloud.compliance.catalogue import render
    from govcloud.compliance.rules import RULES

    assert (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8") == render(), "run: make rules-doc"
    assert (ROOT / "docs" / "ja" / "RULES.md").read_text(encoding="utf-8") == render("ja"), "run: make rules-doc"
    assert [r.id for r in RULES if not (r.info_ja and r.explanation_ja)] == []  # every rule has its Japanese


@pytest.mark.parametrize("variant", ["stg", "prod", "services_on"])
def test_whole_app_passes_the_government_cloud_rules(request, variant) -> None:
    from govcloud.compliance.rules import Stack, evaluate

    synth = request.getfixturevalue(variant)
    settings = compliance.settings_for(synth.stage.cfg)
    for name, template in synth.templates.items():
        artifact = synth.artifacts[name]
        stack = Stack(
            name=name,
            region=artifact["environment"].split("/")[3],
            template=template,
            termination_protection=bool(artifact["properties"].get("terminationProtection")),
        )
        acknowledged = {
            (lid, ack["id"])
            for lid, resource in template["Resources"].items()
            for ack in resource.get("Metadata", {}).get("govcloud", {}).get("rules_acknowledged", [])
        }
        unacknowledged = [f for f in evaluate(stack, settings) if (f.logical_id, f.rule) not in acknowledged]
        assert unacknowledged == [], name
