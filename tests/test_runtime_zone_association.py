"""The zone-sharing custom resource handler, against botocore's Stubber (moto has no VPC association authorizations)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import zone_association  # the function's folder, as Lambda loads it (tests/conftest.py)
from botocore.stub import Stubber

VPC = {"VPCRegion": "ap-northeast-1", "VPCId": "vpc-0abc"}


def event(
    request: str, mode: str = "associate", zones: list[str] | None = None, old: dict[str, Any] | None = None
) -> dict[str, Any]:
    e = {
        "RequestType": request,
        "ResourceProperties": {
            "Mode": mode,
            "VpcId": "vpc-0abc",
            "VpcRegion": "ap-northeast-1",
            "HostedZoneIds": zones or ["Z1", "Z2"],
        },
        "StackId": "arn:aws:cloudformation:ap-northeast-1:111111111111:stack/s/1",
        "RequestId": "r1",
        "LogicalResourceId": "Share",
        "ResponseURL": "https://example.invalid/response",
    }
    if old is not None:
        e["OldResourceProperties"] = old
    return e


@pytest.fixture
def route53():
    client = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


ASSOCIATE_OK = {"ChangeInfo": {"Id": "c", "Status": "INSYNC", "SubmittedAt": "2026-01-01T00:00:00Z"}}


def test_create_associates_every_zone(route53) -> None:
    client, stub = route53
    for zone in ("Z1", "Z2"):
        stub.add_response(
            "associate_vpc_with_hosted_zone",
            ASSOCIATE_OK,
            {"HostedZoneId": zone, "VPC": VPC, "Comment": "shared hub endpoint zone"},
        )
    assert zone_association.reconcile(client, event("Create")) == "associate:vpc-0abc"


def test_create_is_idempotent(route53) -> None:
    client, stub = route53
    stub.add_client_error("associate_vpc_with_hosted_zone", "ConflictingDomainExists")
    stub.add_response("associate_vpc_with_hosted_zone", ASSOCIATE_OK)
    zone_association.reconcile(client, event("Create"))


def test_update_revokes_removed_zones(route53) -> None:
    client, stub = route53
    stub.add_response(
        "create_vpc_association_authorization", {"HostedZoneId": "Z2", "VPC": VPC}, {"HostedZoneId": "Z2", "VPC": VPC}
    )
    stub.add_response("delete_vpc_association_authorization", {}, {"HostedZoneId": "Z1", "VPC": VPC})
    old = {"Mode": "authorize", "VpcId": "vpc-0abc", "VpcRegion": "ap-northeast-1", "HostedZoneIds": ["Z1", "Z2"]}
    zone_association.reconcile(client, event("Update", "authorize", ["Z2"], old))


def test_delete_tolerates_what_is_already_gone(route53) -> None:
    client, stub = route53
    stub.add_client_error("disassociate_vpc_from_hosted_zone", "VPCAssociationNotFound")
    stub.add_response("disassociate_vpc_from_hosted_zone", ASSOCIATE_OK, {"HostedZoneId": "Z2", "VPC": VPC})
    zone_association.reconcile(client, event("Delete"))


def test_other_errors_propagate(route53) -> None:
    client, stub = route53
    stub.add_client_error("associate_vpc_with_hosted_zone", "AccessDenied")
    with pytest.raises(Exception, match="AccessDenied"):
        zone_association.reconcile(client, event("Create"))


def test_handler_reports_failure_to_cloudformation(monkeypatch) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        zone_association,
        "_respond",
        lambda e, status, pid, reason="": sent.append({"status": status, "reason": reason}),
    )
    bad = event("Create", mode="delete-everything")
    zone_association.handler(bad, None)
    assert sent == [
        {"status": "FAILED", "reason": "ValueError: Mode must be 'authorize' or 'associate', not 'delete-everything'"}
    ]


def test_response_body(monkeypatch) -> None:
    captured = {}

    class Response:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    def fake_urlopen(request, timeout):
        captured["method"], captured["body"] = request.get_method(), json.loads(request.data)
        return Response()

    monkeypatch.setattr(zone_association.urllib.request, "urlopen", fake_urlopen)
    zone_association._respond(event("Create"), "SUCCESS", "associate:vpc-0abc")
    assert captured["method"] == "PUT"
    assert captured["body"]["Status"] == "SUCCESS" and captured["body"]["PhysicalResourceId"] == "associate:vpc-0abc"
