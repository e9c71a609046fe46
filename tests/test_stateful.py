"""Logical IDs of stateful resources are a contract: a rename replaces the resource and loses its data.

If this test fails, a change would replace a key or a bucket. Do not update the list to make it pass unless
the replacement is planned (data moved, keys re-wrapped) and said so in the pull request.
"""

from __future__ import annotations

STATEFUL_TYPES = ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup")

PINNED = {
    "KobeStg-LogArchive": {
        "ArchiveKey69F03933": "AWS::KMS::Key",
        "AccessLogBucket99AA64AA": "AWS::S3::Bucket",
        "LogBucket27CEF49F": "AWS::S3::Bucket",
    },
    **{
        f"KobeStg-Baseline-{role}": {
            "LogsKey195F8DFC": "AWS::KMS::Key",
            "AccountGuardsGuardFunctionLogsAD0403E6": "AWS::Logs::LogGroup",
            **extra,
        }
        for role, extra in (
            ("LogArchive", {}),
            ("Network", {}),
            ("ResidentRegistry", {"ResidentDataKeyA7BD66F4": "AWS::KMS::Key"}),
            ("Linkage", {"LinkageKeyA6540845": "AWS::KMS::Key"}),
            ("DataLake", {"DataLakeKeyCEB7BCCC": "AWS::KMS::Key"}),
        )
    },
}


def test_stateful_logical_ids_are_pinned(stg) -> None:
    found = {
        stack: {lid: r["Type"] for lid, r in stg.resources(stack).items() if r["Type"] in STATEFUL_TYPES}
        for stack in stg.templates
    }
    assert found == PINNED


def test_stateful_resources_are_retained(stg, services_on) -> None:
    for synth in (stg, services_on):
        for stack, lid, resource in synth.all_resources():
            if resource["Type"] in STATEFUL_TYPES:
                assert resource.get("DeletionPolicy") == "Retain", (stack, lid)
                assert resource.get("UpdateReplacePolicy") == "Retain", (stack, lid)
