"""Share the hub's private hosted zones with spoke VPCs in other accounts (``govcloud/runtime/zone_association``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from govcloud.compliance.packs import acknowledge
from govcloud.constructs.function_identity import function_identity

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime" / "zone_association"


class ZoneSharing(Construct):
    """One function per stack; :meth:`share` adds a custom resource per VPC.

    ``mode="authorize"`` runs in the zones' account (the hub), ``mode="associate"`` in the VPC's account."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        mode: str,
        zone_ids: Sequence[str],
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.mode = mode
        self.zone_ids = list(zone_ids)
        actions = (
            ["route53:CreateVPCAssociationAuthorization", "route53:DeleteVPCAssociationAuthorization"]
            if mode == "authorize"
            else ["route53:AssociateVPCWithHostedZone", "route53:DisassociateVPCFromHostedZone"]
        )
        statements = [
            iam.PolicyStatement(
                sid="TheSharedZonesOnly",
                actions=actions,
                resources=[f"arn:aws:route53:::hostedzone/{zone}" for zone in self.zone_ids],
            )
        ]
        if mode == "associate":
            # AssociateVPCWithHostedZone checks the VPC with DescribeVpcs, which takes no resource-level scoping.
            statements.append(iam.PolicyStatement(sid="CheckOwnVpc", actions=["ec2:DescribeVpcs"], resources=["*"]))
        identity = function_identity(
            self, "", statements=statements, log_key=log_key, log_retention_days=log_retention_days
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="zone_association.handler",
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["__pycache__", "*.pyc"]),
            role=identity.role,
            timeout=cdk.Duration.minutes(5),
            memory_size=256,
            log_group=identity.log_group,
            description=f"Private hosted zone sharing across accounts ({mode})",
        )
        self.function.node.add_dependency(identity.policy)
        if mode == "associate":
            acknowledge(
                identity.policy,
                "AwsSolutions-IAM5[Resource::*]",
                "ec2:DescribeVpcs, which Route 53 needs to associate a VPC, takes no resource-level permissions.",
            )
        for rule, why in (
            ("LambdaInsideVPC", "it calls the global Route 53 API, which the closed VPCs cannot reach"),
            ("LambdaConcurrency", "it runs only when CloudFormation creates, updates or deletes a zone share"),
            ("LambdaDLQ", "it reports every failure to CloudFormation, which fails the deployment"),
        ):
            acknowledge(self.function, f"NIST.800.53.R5-{rule}", f"Zone-sharing custom resource: {why}.")

    def share(self, scope: Construct, construct_id: str, *, vpc_id: str, region: str) -> cdk.CustomResource:
        return cdk.CustomResource(
            scope,
            construct_id,
            service_token=self.function.function_arn,
            resource_type="Custom::HostedZoneSharing",
            properties={"Mode": self.mode, "VpcId": vpc_id, "VpcRegion": region, "HostedZoneIds": self.zone_ids},
        )
