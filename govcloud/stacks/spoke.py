"""Spoke network of one system account: an isolated VPC in one segment, attached to the hub's Transit Gateway."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_route53profiles as profiles
from aws_cdk import aws_route53resolver as resolver
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import naming, netplan
from govcloud.compliance.packs import acknowledge
from govcloud.config import Config, pascal
from govcloud.constructs.isolated_vpc import IsolatedVpc
from govcloud.constructs.zone_sharing import ZoneSharing
from govcloud.prerequisites import AWS_OWNED_BUCKETS
from govcloud.stacks.base import GovCloudStack
from govcloud.stacks.network_hub import HubShares, endpoint_policy_statement

EPHEMERAL = (1024, 65535)


class SpokeNetworkStack(GovCloudStack):
    """VPC, NACLs per tier, S3 gateway endpoint, flow logs, Transit Gateway attachment and routes, and the hub's
    DNS (forwarding rules, DNS Firewall, endpoint zones) for one spoke."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: Config,
        spoke: str,
        hub: HubShares,
        logs_key: kms.IKey,
        region: str | None = None,
    ) -> None:
        net = cfg.network
        conf = net.spokes[spoke]
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=conf.account,
            region=region,
            summary=f"spoke network of '{spoke}' in segment '{conf.segment}' "
            "(isolated VPC, Transit Gateway attachment)",
            system=spoke,
            classification="internal",
        )
        self.spoke = spoke
        self._vpc(hub)
        self._s3_endpoint()
        self._own_endpoints()
        self._dns(hub)

    def _vpc(self, hub: HubShares) -> None:
        """The isolated VPC, its attachment to the hub's Transit Gateway, routes to what it may reach, and NACLs."""
        cfg, net, spoke = self.cfg, self.cfg.network, self.spoke
        conf = net.spokes[spoke]
        log_bucket = s3.Bucket.from_bucket_name(self, "CentralLogBucket", naming.log_bucket(cfg))
        self.network = IsolatedVpc(
            self,
            "Vpc",
            cidr=conf.cidr,
            zones=cfg.zones(self.region),
            tiers=netplan.SPOKE_TIERS,
            log_bucket=log_bucket,
        )
        vpc = self.network.vpc

        # What this spoke may reach: the hub, its own segment (city hall side and other spokes), allowed segments.
        reachable = cfg.reachable_from(spoke)

        self.attachment = ec2.CfnTransitGatewayVpcAttachment(
            self,
            "TransitGatewayAttachment",
            transit_gateway_id=hub.transit_gateway_id,
            vpc_id=vpc.vpc_id,
            subnet_ids=[s.subnet_id for s in self.network.subnets("Attachments")],
        )
        cdk.Tags.of(self.attachment).add("Segment", conf.segment)  # what the segment rule (GC-NET-5) reads
        self.network.add_routes_to_transit_gateway(reachable, hub.transit_gateway_id, self.attachment)
        self._nacls(vpc, conf.cidr, net.hub_cidr, reachable, list(net.s3_cidrs), cfg.patch_source_cidrs(spoke))

    def _s3_endpoint(self) -> None:
        """The S3 gateway endpoint: buckets of the environment's accounts, and the AWS-owned buckets hosts need."""
        cfg, vpc = self.cfg, self.network.vpc
        region = self.region
        all_accounts = sorted({a.id for a in cfg.accounts.values()})
        self.s3_endpoint = gateway = vpc.add_gateway_endpoint(
            "S3Endpoint",
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[ec2.SubnetSelection(subnets=vpc.isolated_subnets)],
        )
        gateway.add_to_policy(
            iam.PolicyStatement(
                sid="ConfiguredAccountsBuckets",
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:PrincipalAccount": all_accounts, "s3:ResourceAccount": all_accounts}},
            )
        )
        gateway.add_to_policy(
            # Red Hat's images lack the SSM agent and the AWS CLI: user data downloads the agent's package with an
            # unsigned request, which carries no principal account. Only that AWS-owned bucket, read only.
            iam.PolicyStatement(
                sid="SsmAgentPackageForHostsWithoutIt",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[f"arn:aws:s3:::amazon-ssm-{region}/latest/*"],
            )
        )
        gateway.add_to_policy(
            iam.PolicyStatement(
                sid="AwsOwnedAgentAndRepositoryBuckets",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[f"arn:aws:s3:::{b.format(r=region)}/*" for b in AWS_OWNED_BUCKETS],
                conditions={"StringEquals": {"aws:PrincipalAccount": all_accounts}},
            )
        )

    def _own_endpoints(self) -> None:
        """Endpoints the spoke keeps in its own VPC (execute-api for the linkage platform's private API)."""
        cfg, vpc = self.cfg, self.network.vpc
        conf = cfg.network.spokes[self.spoke]
        all_accounts = sorted({a.id for a in cfg.accounts.values()})
        self.own_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        if conf.endpoints_in_spoke:
            group = ec2.SecurityGroup(
                self,
                "EndpointSecurityGroup",
                vpc=vpc,
                description="Own interface endpoints: HTTPS from this VPC",
                allow_all_outbound=False,
            )
            group.add_ingress_rule(ec2.Peer.ipv4(conf.cidr), ec2.Port.tcp(443), "HTTPS from this VPC")
            for service in conf.endpoints_in_spoke:
                endpoint = ec2.InterfaceVpcEndpoint(
                    self,
                    f"Endpoint{pascal(service)}",
                    vpc=vpc,
                    service=ec2.InterfaceVpcEndpointAwsService(service),
                    subnets=ec2.SubnetSelection(subnet_group_name="Application"),
                    security_groups=[group],
                    private_dns_enabled=True,
                    open=False,
                )
                endpoint.add_to_policy(endpoint_policy_statement(all_accounts))
                self.own_endpoints[service] = endpoint

    def _dns(self, hub: HubShares) -> None:
        """The hub's DNS for this spoke's segment (its forwarding rules and the DNS Firewall, or its Route 53
        Profile), and query logs of the VPC. Another segment's rules never reach it: they forward to that segment's
        DNS servers."""
        cfg, net, spoke, vpc = self.cfg, self.cfg.network, self.spoke, self.network.vpc
        segment = net.spokes[spoke].segment
        if net.dns_delivery == "ram":
            for domain, rule_id in sorted(hub.resolver_rule_ids.get(segment, {}).items()):
                resolver.CfnResolverRuleAssociation(
                    self, f"Forward{pascal(domain.replace('.', '-'))}", resolver_rule_id=rule_id, vpc_id=vpc.vpc_id
                )
            resolver.CfnFirewallRuleGroupAssociation(
                self,
                "DnsFirewall",
                firewall_rule_group_id=hub.firewall_rule_group_id,
                vpc_id=vpc.vpc_id,
                priority=101,
                # Production: nobody can change the association's rules in place; staging can be torn down.
                mutation_protection="ENABLED" if cfg.is_production else "DISABLED",
                name=f"{cfg.name}-{spoke}",
            )
            # The endpoint zones are associated by SpokeZonesStack, after the hub has authorized this VPC.
        else:
            profiles.CfnProfileAssociation(
                self,
                "DnsProfile",
                profile_id=hub.profile_ids[segment],
                resource_id=vpc.vpc_id,
                name=f"{cfg.name}-{spoke}",
            )
        query_logs = resolver.CfnResolverQueryLoggingConfig(
            self,
            "QueryLogging",
            name=f"{cfg.name}-{spoke}",
            destination_arn=f"arn:aws:s3:::{naming.log_bucket(cfg)}/{naming.RESOLVER_LOGS_PREFIX}",
        )
        resolver.CfnResolverQueryLoggingConfigAssociation(
            self, "QueryLoggingVpc", resolver_query_log_config_id=query_logs.attr_id, resource_id=vpc.vpc_id
        )

    def _nacls(
        self, vpc: ec2.Vpc, own: str, hub: str, reachable: list[str], s3: list[str], patch_sources: list[str]
    ) -> None:
        """Stateless guards per tier: the VPC itself, the hub and the segment, on the ports each tier needs; and
        S3 through the gateway endpoint (its CIDRs: a network ACL cannot name the prefix list). The data tier also
        reaches the city's update servers, if the spoke's hosts patch from them."""
        tcp_https = ec2.AclTraffic.tcp_port(443)
        tcp_ephemeral = ec2.AclTraffic.tcp_port_range(*EPHEMERAL)
        everything = ec2.AclTraffic.all_traffic()
        plan: dict[str, list[tuple[str, ec2.TrafficDirection, list[str], ec2.AclTraffic]]] = {
            # Application: serves HTTPS to the city hall and calls the hub's endpoints and segment services.
            "Application": [
                ("Https", ec2.TrafficDirection.INGRESS, reachable, tcp_https),
                ("Returns", ec2.TrafficDirection.INGRESS, reachable, tcp_ephemeral),
                ("HttpsOut", ec2.TrafficDirection.EGRESS, reachable, tcp_https),
                ("ReturnsOut", ec2.TrafficDirection.EGRESS, reachable, tcp_ephemeral),
                ("S3Out", ec2.TrafficDirection.EGRESS, s3, tcp_https),
                ("S3Returns", ec2.TrafficDirection.INGRESS, s3, tcp_ephemeral),
            ],
            # Data: reached only from inside the VPC; calls the hub's endpoints (agents, patching).
            "Data": [
                ("Returns", ec2.TrafficDirection.INGRESS, [hub], tcp_ephemeral),
                ("HttpsOut", ec2.TrafficDirection.EGRESS, [hub], tcp_https),
                ("S3Out", ec2.TrafficDirection.EGRESS, s3, tcp_https),
                ("S3Returns", ec2.TrafficDirection.INGRESS, s3, tcp_ephemeral),
                ("PatchOut", ec2.TrafficDirection.EGRESS, patch_sources, tcp_https),
                ("PatchReturns", ec2.TrafficDirection.INGRESS, patch_sources, tcp_ephemeral),
            ],
            # Attachments: the Transit Gateway's interfaces carry whatever the other tiers may send.
            "Attachments": [
                ("All", ec2.TrafficDirection.INGRESS, reachable, everything),
                ("AllOut", ec2.TrafficDirection.EGRESS, reachable, everything),
            ],
        }
        for tier, entries in plan.items():
            acl = ec2.NetworkAcl(
                self, f"{tier}Acl", vpc=vpc, subnet_selection=ec2.SubnetSelection(subnet_group_name=tier)
            )
            acknowledge(
                acl,
                "AwsSolutions-VPC3",
                "NACLs per tier are a deliberate second, stateless guard of the closed network (三層分離); security "
                "groups stay the primary control and the entries are generated from config, not edited by hand.",
            )
            for direction in (ec2.TrafficDirection.INGRESS, ec2.TrafficDirection.EGRESS):
                suffix = "In" if direction == ec2.TrafficDirection.INGRESS else "Out"
                acl.add_entry(
                    f"Vpc{suffix}",
                    cidr=ec2.AclCidr.ipv4(own),
                    rule_number=100,
                    traffic=everything,
                    direction=direction,
                    rule_action=ec2.Action.ALLOW,
                )
                # Each entry is named and numbered by what it admits, never by its position in the list.
                keyed = {
                    f"{name}-{cidr.replace('/', '-')}": (cidr, traffic)
                    for name, entry_direction, cidrs, traffic in entries
                    if entry_direction == direction
                    for cidr in cidrs
                }
                for key, number in netplan.acl_rule_numbers(set(keyed)).items():
                    cidr, traffic = keyed[key]
                    acl.add_entry(
                        key,
                        cidr=ec2.AclCidr.ipv4(cidr),
                        rule_number=number,
                        traffic=traffic,
                        direction=direction,
                        rule_action=ec2.Action.ALLOW,
                    )


class SpokeZonesStack(GovCloudStack):
    """Associates a spoke VPC with the hub's endpoint zones (``dns_delivery = "ram"``).

    Across accounts the zones' owner must first authorize the VPC, which the hub side does in
    ``NetworkAttachmentsStack`` once the VPC exists: so this stack comes after both."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: Config,
        spoke: str,
        vpc: ec2.IVpc,
        hub: HubShares,
        logs_key: kms.IKey,
        region: str | None = None,
    ) -> None:
        conf = cfg.network.spokes[spoke]
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=conf.account,
            region=region,
            summary=f"endpoint zones of the hub associated with the '{spoke}' spoke VPC",
            system=spoke,
            classification="internal",
        )
        shared = [s for s in cfg.shared_endpoint_services() if s not in conf.endpoints_in_spoke]
        sharing = ZoneSharing(
            self,
            "EndpointZones",
            mode="associate",
            zone_ids=[hub.zone_ids[s] for s in shared],
            log_key=logs_key,
            log_retention_days=cfg.logging.retention_days,
        )
        sharing.share(self, "EndpointZoneAssociation", vpc_id=vpc.vpc_id, region=self.region)
