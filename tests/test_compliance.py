"""Compliance on every synth: both packs pass over the whole app, acknowledgements are specific and written
into the templates, and an unacknowledged finding fails ``cdk synth`` through the CLI."""

from __future__ import annotations

import json
import re

import pytest
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from govcloud.compliance import packs as compliance
from tests.support import ROOT, CliRun

ACK_ID = re.compile(
    r"^((AwsSolutions|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[[^\]]+\])?|CloudFormation-Validate::[EFW][0-9]{4})$"
)


@pytest.mark.parametrize("pack", [AwsSolutionsChecks, NIST80053R5Checks], ids=["AwsSolutions", "NIST80053R5"])
@pytest.mark.parametrize("synth_name", ["stg", "prod", "services_on"])
def test_pack_finds_nothing_unacknowledged(request, pack, synth_name) -> None:
    synth = request.getfixturevalue(synth_name)
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
    """Acknowledged on resources (their template metadata says which rule and why), never on a stack or the stage,
    where one acknowledgement would silence a rule for everything inside."""
    import aws_cdk as cdk

    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    scopes = [stg.stage, *(c for c in stg.stage.node.children if isinstance(c, cdk.Stack))]
    assert len(scopes) == len(stg.templates) + 1
    assert not [s.node.path for s in scopes if any(m.type == key for m in s.node.metadata)]
    on_resources = [
        lid for _, lid, resource in stg.all_resources() if {"cdk_nag", "govcloud"} & set(resource.get("Metadata") or {})
    ]
    assert len(on_resources) > 50


def test_acknowledge_requires_a_reason(stg) -> None:
    with pytest.raises(ValueError, match="give a reason a reviewer can check"):
        compliance.acknowledge(stg.stage, "AwsSolutions-S1", "ok")


@pytest.mark.cdk_cli(
    "synth", "--quiet", "--app", "python tests/fixtures/broken_app.py", "-c", "broken=all", "-o", "{dir}"
)
def test_an_unacknowledged_finding_of_each_pack_fails_cli_synth(cdk_cli: CliRun) -> None:
    """One finding of each registered pack left unacknowledged: the CLI synth fails and names all three."""
    result = cdk_cli.result
    assert result is not None and result.returncode != 0
    assert "3 unacknowledged compliance finding(s)" in result.stderr
    for pack, rule in (
        ("AwsSolutions", "AwsSolutions-S1"),
        ("NIST.800.53.R5", "NIST.800.53.R5-S3BucketLoggingEnabled"),
        ("GovCloud", "GC-S3-4"),
    ):
        assert f"{pack} {rule} (error) on Broken/Stack/Bucket/Resource" in result.stderr


@pytest.mark.cdk_cli(
    "synth", "--quiet", "--app", "python tests/fixtures/broken_app.py", "-c", "broken=none", "-o", "{dir}"
)
def test_same_app_with_the_finding_acknowledged_passes(cdk_cli: CliRun) -> None:
    result = cdk_cli.result
    assert result is not None and result.returncode == 0, result and result.stderr
    template = json.loads(next(cdk_cli.directory.glob("assembly-Broken/*.template.json")).read_text())
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


@pytest.mark.parametrize("synth_name", ["stg", "prod", "services_on"])
def test_whole_app_passes_the_government_cloud_rules(request, synth_name) -> None:
    from govcloud.compliance.rules import Stack, evaluate

    synth = request.getfixturevalue(synth_name)
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


# ----- least privilege across every template -----

SOURCE_KEYS = (
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "kms:EncryptionContext:aws:logs:arn",
    "kms:EncryptionContext:aws:cloudtrail:arn",
)
POLICY_OF = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
}


@pytest.mark.parametrize("synth_name", ["stg", "prod", "services_on"])
def test_every_service_principal_is_bound_to_its_source(request, synth_name) -> None:
    """Finding: service principals in key, topic, queue and bucket policies lacked aws:SourceAccount or
    aws:SourceArn, so a service acting for another account could use them (a confused deputy)."""
    synthesized = request.getfixturevalue(synth_name)
    checked, unbound = 0, []
    for stack, lid, resource in synthesized.all_resources():
        document = (resource.get("Properties") or {}).get(POLICY_OF.get(resource["Type"], ""))
        for statement in document.get("Statement", []) if isinstance(document, dict) else []:
            principal = statement.get("Principal")
            if statement.get("Effect") != "Allow" or not isinstance(principal, dict) or "Service" not in principal:
                continue
            checked += 1
            if not any(key in json.dumps(statement.get("Condition", {})) for key in SOURCE_KEYS):
                unbound.append((stack, lid, principal["Service"], statement.get("Sid")))
    assert checked > 20 and unbound == []


def _grants(synthesized, renamed: dict[str, str]) -> dict[str, list[str]]:
    """Every principal and every principal condition of every policy, by stack (stack names mapped back through
    ``renamed``, from new account names to the old): what each trust and grant names."""
    from govcloud.config import pascal

    back = {f"-{pascal(new)}": f"-{pascal(old)}" for new, old in renamed.items()}
    out: dict[str, list[str]] = {}
    for stack, _, resource in synthesized.all_resources():
        name = next((stack.replace(n, o) for n, o in back.items() if f"{n}-" in f"{stack}-"), stack)
        props_ = resource.get("Properties") or {}
        for key in ("AssumeRolePolicyDocument", "KeyPolicy", "PolicyDocument", "Policy"):
            document = props_.get(key)
            for statement in document.get("Statement", []) if isinstance(document, dict) else []:
                text = json.dumps([statement.get("Principal"), statement.get("Condition")], sort_keys=True)
                for new, old in back.items():  # stack names inside stack-output reads
                    text = text.replace(f'{new}"', f'{old}"').replace(f"{new}-", f"{old}-")
                out.setdefault(name, []).append(text)
    return {k: sorted(v) for k, v in out.items()}


def test_renaming_every_account_keeps_every_trust_and_grant(stg, tmp_path) -> None:
    """Finding: renaming the linkage account in config silently made the ingestion role trust the data lake account
    (a literal account name in the catalog stack). Every account gets a new name here (spokes and systems keep
    theirs); every trust and grant must still name the same accounts and roles."""
    from govcloud.config import parse
    from tests.conftest import config_data
    from tests.support import synth

    new_name = {"log-archive": "archive", "network": "net", "resident-registry": "jumin", "linkage": "renkei",
                "data-lake": "lake"}  # fmt: skip
    data = config_data()
    data["accounts"] = {new_name[old]: account for old, account in data["accounts"].items()}
    for table in ("log_archive", "network", "linkage", "data_lake"):
        data[table]["account"] = new_name[data[table]["account"]]
    for entry in (*data["network"]["spokes"].values(), *data["systems"].values()):
        entry["account"] = new_name[entry["account"]]
    renamed = synth(parse(data, "kobe-stg, every account renamed"), tmp_path)
    before, after = _grants(stg, {}), _grants(renamed, {new: old for old, new in new_name.items()})
    assert set(after) == set(before)
    assert [stack for stack in before if before[stack] != after[stack]] == []
    assert sum(len(v) for v in before.values()) > 300
