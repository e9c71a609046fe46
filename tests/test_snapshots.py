"""One snapshot per stack. A snapshot change is reviewed like code; update with ``make snapshot-update``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.test_stage import STG_STACKS

ASSET_HASH = re.compile(r"^[0-9a-f]{64}(\.zip|\.json)?$")


def masked(node: Any) -> Any:
    """Replace asset hashes (they change with aws-cdk-lib upgrades, not with our code)."""
    if isinstance(node, dict):
        return {
            k: ("<asset-hash>" if k == "S3Key" and ASSET_HASH.match(str(v)) else masked(v)) for k, v in node.items()
        }
    if isinstance(node, list):
        return [masked(v) for v in node]
    return node


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", sorted(STG_STACKS))
def test_staging_stack_snapshot(stg, snapshot_json, stack: str) -> None:
    assert masked(stg.template(stack)) == snapshot_json


@pytest.mark.parametrize(
    "stack",
    [
        "KobeProd-LogArchive",
        "KobeProd-Baseline-ResidentRegistry",
        "KobeProd-System-ResidentRegistry",
        "KobeProd-NetworkHub-Osaka",
        "KobeProd-Spoke-ResidentRegistry-Osaka",
        "KobeProd-Recovery-ResidentRegistry",
        "KobeProd-DataLakeCatalog-Osaka",
        "KobeProd-DR-DataLake",
    ],
)
def test_production_stack_snapshot(prod, snapshot_json, stack: str) -> None:
    assert masked(prod.template(stack)) == snapshot_json


def test_services_on_snapshot(services_on, snapshot_json) -> None:
    assert masked(services_on.template("KobeStg-Baseline-ResidentRegistry")) == snapshot_json
