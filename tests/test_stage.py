"""The environment as a whole: stack names, accounts, regions, tags, descriptions, protection, order."""

from __future__ import annotations

import json

from govcloud.config import REQUIRED_TAG_KEYS
from govcloud.review.changes import schema

STG_STACKS = {
    "KobeStg-LogArchive": "111100000001",
    "KobeStg-Baseline-LogArchive": "111100000001",
    "KobeStg-Baseline-Network": "111100000002",
    "KobeStg-Baseline-ResidentRegistry": "111100000003",
    "KobeStg-Baseline-Linkage": "111100000004",
    "KobeStg-Baseline-DataLake": "111100000005",
    "KobeStg-SpokeZones-ResidentRegistry": "111100000003",
    "KobeStg-SpokeZones-Linkage": "111100000004",
    "KobeStg-LinkageData": "111100000004",
    "KobeStg-Linkage": "111100000004",
    "KobeStg-NetworkHub": "111100000002",
    "KobeStg-NetworkAttachments": "111100000002",
    "KobeStg-Spoke-ResidentRegistry": "111100000003",
    "KobeStg-Spoke-Linkage": "111100000004",
    "KobeStg-DR-DataLake": "111100000005",
    "KobeStg-DataLake": "111100000005",
    "KobeStg-DataLakeCatalog": "111100000005",
    "KobeStg-DR-ResidentRegistry": "111100000003",
    "KobeStg-System-ResidentRegistry": "111100000003",
    # Osaka: every account's baseline there (keys, guards, alarms), as strict as Tokyo's
    "KobeStg-Baseline-LogArchive-Osaka": "111100000001",
    "KobeStg-Baseline-Network-Osaka": "111100000002",
    "KobeStg-Baseline-ResidentRegistry-Osaka": "111100000003",
    "KobeStg-Baseline-Linkage-Osaka": "111100000004",
    "KobeStg-Baseline-DataLake-Osaka": "111100000005",
}


def tag_property(resource_type: str) -> str | None:
    """The property that carries tags in the type's CloudFormation schema (None: the type cannot be tagged)."""
    properties = schema(resource_type).get("properties", {})
    return next((p for p in ("Tags", "HostedZoneTags") if p in properties), None)


def test_stack_names_accounts_and_regions(stg) -> None:
    assert {name: a["environment"].split("/")[2] for name, a in stg.artifacts.items()} == {
        name: f"{acct}" for name, acct in STG_STACKS.items()
    }
    regions = {name: a["environment"].split("/")[3] for name, a in stg.artifacts.items()}
    assert {n for n, r in regions.items() if r == "ap-northeast-3"} == {
        "KobeStg-DR-DataLake",
        "KobeStg-DR-ResidentRegistry",
        *(n for n in STG_STACKS if n.endswith("-Osaka")),
    }
    assert set(regions.values()) == {"ap-northeast-1", "ap-northeast-3"}


def test_descriptions_are_readable(stg) -> None:
    for name, template in stg.templates.items():
        assert template["Description"].startswith("Kobe City (神戸市) kobe-stg: "), name
    assert "'resident-registry' account" in stg.template("KobeStg-Baseline-ResidentRegistry")["Description"]


def test_every_taggable_resource_carries_the_required_tags(stg, services_on) -> None:
    checked = 0
    for synth in (stg, services_on):
        for stack, logical_id, resource in synth.all_resources():
            key = tag_property(resource["Type"])
            if key is None:
                continue
            tags = resource["Properties"].get(key)
            if isinstance(tags, dict):  # a few resource types take a map
                keys = set(tags)
            else:
                assert isinstance(tags, list), f"{stack}/{logical_id} ({resource['Type']}) has no tags"
                keys = {t["Key"] for t in tags}
            assert set(REQUIRED_TAG_KEYS) <= keys, f"{stack}/{logical_id} lacks {set(REQUIRED_TAG_KEYS) - keys}"
            checked += 1
    assert checked > 100


def test_tag_values(stg) -> None:
    bucket = stg.resources("KobeStg-LogArchive", "AWS::S3::Bucket")
    tags = {t["Key"]: t["Value"] for t in next(iter(bucket.values()))["Properties"]["Tags"]}
    assert tags["Municipality"] == "Kobe-281000"
    assert tags["Environment"] == "kobe-stg"
    assert tags["ManagedBy"] == "cdk"
    assert tags["System"] == "log-archive"
    assert tags["CostCenter"] == "digital-strategy"
    keys = stg.resources("KobeStg-Baseline-ResidentRegistry", "AWS::KMS::Key")
    classes = {
        lid: {t["Key"]: t["Value"] for t in k["Properties"]["Tags"]}["DataClassification"] for lid, k in keys.items()
    }
    assert sorted(classes.values()) == ["confidential", "restricted"]


def test_termination_protection_only_in_production(stg, prod) -> None:
    assert not any(a["properties"].get("terminationProtection") for a in stg.artifacts.values())
    assert all(a["properties"].get("terminationProtection") for a in prod.artifacts.values())
    pilot_light = {"NetworkHub-Osaka", "Spoke-ResidentRegistry-Osaka", "NetworkAttachments-Osaka",
                   "SpokeZones-ResidentRegistry-Osaka", "Recovery-ResidentRegistry", "DataLakeCatalog-Osaka"}  # fmt: skip
    assert len(prod.artifacts) == len(STG_STACKS) + len(pilot_light)  # production runs a pilot light in Osaka
    assert {f"KobeProd-{s}" for s in pilot_light} <= set(prod.artifacts)


def test_baselines_deploy_after_the_log_archive(stg) -> None:
    """Tokyo's baselines (their trail and Config write into the archive) and the DR stacks (the replicas' data-event
    trail does); Osaka's baselines write nothing there and come first, before the DR stacks of their account."""
    ids = {a["properties"]["stackName"]: artifact_id for artifact_id, a in _artifact_ids(stg).items()}
    for name, artifact in stg.artifacts.items():
        if ("-Baseline-" in name and not name.endswith("-Osaka")) or "-DR-" in name:
            assert ids["KobeStg-LogArchive"] in artifact.get("dependencies", []), name
    for dr, account in (("KobeStg-DR-DataLake", "DataLake"), ("KobeStg-DR-ResidentRegistry", "ResidentRegistry")):
        assert ids[f"KobeStg-Baseline-{account}-Osaka"] in stg.artifacts[dr]["dependencies"]


def test_zones_come_from_config(stg, stg_cfg) -> None:
    for stack in stg.stage.node.children:
        assert stack.availability_zones == list(stg_cfg.zones(stack.region))


def test_no_lookups_and_no_exports(stg) -> None:
    """Synth asks AWS nothing (no missing context); stacks read each other's outputs only as weak references
    (Fn::GetStackOutput, checked by the deploy simulation), never through exports that lock the producer."""
    for name, template in stg.templates.items():
        assert "Fn::ImportValue" not in str(template), name
    for artifact in stg.artifacts.values():
        assert not artifact.get("missing")


def _artifact_id(synth, stack_name: str) -> str:
    return next(k for k, a in _artifact_ids(synth).items() if a["properties"]["stackName"] == stack_name)


def _artifact_ids(synth) -> dict[str, dict]:

    manifest = json.loads((synth.outdir / "assembly-KobeStg" / "manifest.json").read_text())
    return {k: v for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"}
