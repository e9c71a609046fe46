"""CloudFormation custom resource: share private hosted zones with a VPC in another account.

Across accounts a VPC association needs two calls that CloudFormation cannot make: the zone's account authorizes
the VPC (``Mode=authorize``, in the hub), then the VPC's account associates it (``Mode=associate``, in the spoke).
Properties: ``Mode``, ``VpcId``, ``VpcRegion``, ``HostedZoneIds`` (list). Create and update make every listed
zone authorized/associated and revoke the ones an update removed; delete revokes them all. Calls are idempotent,
so a retried deployment converges.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

# Errors that mean the desired state already holds.
ALREADY_DONE = {
    "authorize": {
        "VPCAssociationAuthorizationAlreadyExists"
    },  # not raised today; CreateVPCAssociationAuthorization is idempotent
    "associate": {"ConflictingDomainExists"},
    "revoke-authorize": {"VPCAssociationAuthorizationNotFound", "NoSuchHostedZone"},
    "revoke-associate": {"VPCAssociationNotFound", "NoSuchHostedZone"},
}


def _apply(client: Any, mode: str, zone_id: str, vpc: dict[str, str], *, revoke: bool) -> None:
    action = f"revoke-{mode}" if revoke else mode
    try:
        if mode == "authorize" and not revoke:
            client.create_vpc_association_authorization(HostedZoneId=zone_id, VPC=vpc)
        elif mode == "authorize":
            client.delete_vpc_association_authorization(HostedZoneId=zone_id, VPC=vpc)
        elif not revoke:
            client.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC=vpc, Comment="shared hub endpoint zone")
        else:
            client.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC=vpc)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ALREADY_DONE[action]:
            LOG.info("%s %s: already done (%s)", action, zone_id, code)
            return
        raise


def reconcile(client: Any, event: dict[str, Any]) -> str:
    """Apply the event to Route 53; return the physical resource id."""
    props = event["ResourceProperties"]
    mode = props["Mode"]
    if mode not in ("authorize", "associate"):
        raise ValueError(f"Mode must be 'authorize' or 'associate', not {mode!r}")
    vpc = {"VPCRegion": props["VpcRegion"], "VPCId": props["VpcId"]}
    wanted = list(dict.fromkeys(props["HostedZoneIds"]))
    request = event["RequestType"]
    if request == "Delete":
        for zone_id in wanted:
            _apply(client, mode, zone_id, vpc, revoke=True)
    else:
        for zone_id in wanted:
            _apply(client, mode, zone_id, vpc, revoke=False)
        if request == "Update":
            old = event.get("OldResourceProperties", {})
            old_vpc = {"VPCRegion": old.get("VpcRegion", vpc["VPCRegion"]), "VPCId": old.get("VpcId", vpc["VPCId"])}
            for zone_id in old.get("HostedZoneIds", []):
                if zone_id not in wanted or old_vpc != vpc:
                    _apply(client, mode, zone_id, old_vpc, revoke=True)
    return f"{mode}:{vpc['VPCId']}"


def _respond(event: dict[str, Any], status: str, physical_id: str, reason: str = "") -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000] or "see the function's log",
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=30) as response:
        LOG.info("CloudFormation answered %s", response.status)


def handler(event: dict[str, Any], context: Any) -> None:
    LOG.info("%s %s", event.get("RequestType"), json.dumps(event.get("ResourceProperties", {})))
    physical_id = event.get("PhysicalResourceId", "none")
    try:
        physical_id = reconcile(boto3.client("route53"), event)
    except Exception as error:  # every failure must reach CloudFormation, or the stack waits an hour
        LOG.exception("failed")
        _respond(event, "FAILED", physical_id, f"{type(error).__name__}: {error}")
        return
    _respond(event, "SUCCESS", physical_id)
