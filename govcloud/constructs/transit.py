"""Transit Gateway route-table associations and propagations."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


def associate(scope: Construct, construct_id: str, *, attachment_id: str, route_table_id: str) -> None:
    ec2.CfnTransitGatewayRouteTableAssociation(
        scope, construct_id, transit_gateway_attachment_id=attachment_id, transit_gateway_route_table_id=route_table_id
    )


def propagate(scope: Construct, construct_id: str, *, attachment_id: str, route_table_id: str) -> None:
    ec2.CfnTransitGatewayRouteTablePropagation(
        scope, construct_id, transit_gateway_attachment_id=attachment_id, transit_gateway_route_table_id=route_table_id
    )
