"""A VPC with no path to the internet: isolated subnet tiers only, flow logs to the log archive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import netplan
from govcloud.compliance.packs import acknowledge
from govcloud.naming import FLOW_LOGS_PREFIX


class IsolatedVpc(Construct):
    """``ec2.Vpc`` with only isolated subnets (no internet gateway, NAT gateway, Elastic IP or public IP mapping),
    the default security group emptied, and all traffic logged as Parquet with hourly partitions to the central
    log bucket under the prefix the log archive reserves for flow logs.

    Subnets are laid out by :mod:`govcloud.netplan` (the same plan config validation uses)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        zones: Sequence[str],
        tiers: tuple[netplan.Tier, ...],
        log_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = int(cidr.split("/")[1])
        self.vpc = ec2.Vpc(
            self,
            "Resource",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=list(zones),
            nat_gateways=0,
            create_internet_gateway=False,
            restrict_default_security_group=True,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=tier.name, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=tier.mask(prefix)
                )
                for tier in tiers
            ],
        )
        flow_log = self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_s3(
                log_bucket,
                f"{FLOW_LOGS_PREFIX}/",
                file_format=ec2.FlowLogFileFormat.PARQUET,
                hive_compatible_partitions=False,
                per_hour_partition=True,
            ),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        # aws-cdk-lib 2.275 renders these keys in camelCase, which the AWS::EC2::FlowLog schema rejects.
        cfn_flow_log = flow_log.node.default_child
        assert isinstance(cfn_flow_log, ec2.CfnFlowLog)
        for key, value in (("FileFormat", "parquet"), ("HiveCompatiblePartitions", False), ("PerHourPartition", True)):
            cfn_flow_log.add_property_deletion_override(f"DestinationOptions.{key[0].lower()}{key[1:]}")
            cfn_flow_log.add_property_override(f"DestinationOptions.{key}", value)
        acknowledge(
            self.vpc,
            "CloudFormation Validate::W3010",
            "Zones come from config so that synth makes no AWS call; config validation checks they belong to "
            "the region.",
        )
        _tag_restrict_default_sg_provider(cdk.Stack.of(self))

    def subnets(self, tier: str) -> list[ec2.ISubnet]:
        return self.vpc.select_subnets(subnet_group_name=tier).subnets

    def add_routes_to_transit_gateway(
        self, destinations: Sequence[str], transit_gateway_id: str, attachment: cdk.CfnResource
    ) -> None:
        """A route for each destination CIDR in every subnet's route table, through the Transit Gateway.

        Each route's ID is its destination, so adding or removing a network never renames (and so replaces) the
        routes to the others: two routes to one destination cannot coexist during a replacement."""
        for subnet in self.vpc.isolated_subnets:
            route_table_id = subnet.route_table.route_table_id  # one jsii round trip per subnet, not per route
            for destination in sorted(set(destinations)):
                route = ec2.CfnRoute(
                    cast(Construct, subnet),
                    "TransitGatewayRoute" + destination.replace(".", "-").replace("/", "-"),
                    route_table_id=route_table_id,
                    destination_cidr_block=destination,
                    transit_gateway_id=transit_gateway_id,
                )
                route.node.add_dependency(attachment)


def _tag_restrict_default_sg_provider(stack: cdk.Stack) -> None:
    """CDK empties the default security group with a provider of raw CfnResources that its tag aspect skips."""
    provider = stack.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    tag = getattr(stack, "tag_raw_resource", None)
    if provider is None or tag is None:
        return
    for name in ("Role", "Handler"):
        child = provider.node.try_find_child(name)
        if isinstance(child, cdk.CfnResource):
            tag(child)
