"""Network hub (network account): Transit Gateway with a route table per segment (三層分離), the links to the
city hall and LGWAN, the hub VPC with shared interface endpoints, and DNS (Resolver, forwarding, DNS Firewall)."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_directconnect as dx
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ram as ram
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_route53profiles as profiles
from aws_cdk import aws_route53resolver as resolver
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from govcloud import naming, netplan
from govcloud.compliance.transit import ATTACHMENT_METADATA, HUB
from govcloud.config import Config, pascal
from govcloud.constructs.isolated_vpc import IsolatedVpc
from govcloud.constructs.sdk_calls import SdkCalls
from govcloud.constructs.transit import associate, propagate
from govcloud.stacks.base import GovCloudStack

HUB_TABLE = HUB  # the hub's route table and the Segment tag of the hub's attachment


@dataclass(frozen=True)
class HubShares:
    """What the spokes use of the hub. In other accounts these are read at deploy time from the hub's outputs
    (``Fn::GetStackOutput`` with a reader role the hub creates), never written into config."""

    transit_gateway_id: str
    firewall_rule_group_id: str
    resolver_rule_ids: dict[str, dict[str, str]]
    """Forwarding rule per segment and domain: each segment's spokes get only their segment's rules."""
    zone_ids: dict[str, str]
    """Private hosted zone per shared endpoint service."""
    profile_ids: dict[str, str]
    """The Route 53 Profile of each segment (``dns_delivery = "profile"``)."""


def endpoint_policy_statement(account_ids: list[str]) -> iam.PolicyStatement:
    """Endpoints admit principals of the environment's accounts only."""
    return iam.PolicyStatement(
        sid="ConfiguredAccountsOnly",
        principals=[iam.AnyPrincipal()],
        actions=["*"],
        resources=["*"],
        conditions={"StringEquals": {"aws:PrincipalAccount": account_ids}},
    )


def dns_allow_list(cfg: Config) -> list[str]:
    """Names the DNS Firewall lets through: AWS service names of Tokyo and Osaka, instance names, and config."""
    aws_names = [
        f"{pattern}.{region}.{suffix}"
        for region in (cfg.regions.primary.name, cfg.regions.dr.name)
        for pattern, suffix in (("*", "amazonaws.com"), ("*", "compute.internal"))
    ]
    return [*aws_names, "*.vpce.amazonaws.com", *cfg.network.dns_allowed_domains]


class NetworkHubStack(GovCloudStack):
    """The hub of one environment, in the network account."""

    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: Config, logs_key: kms.IKey, region: str | None = None
    ) -> None:
        net = cfg.network
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=net.account,
            region=region,
            summary="network hub (Transit Gateway per segment, Direct Connect and VPN links, shared endpoints, DNS)",
            system="network",
            classification="internal",
        )
        self.logs_key = logs_key
        self.spoke_accounts = sorted({cfg.account_id(s.account) for s in net.spokes.values()})
        self.spoke_cidrs = sorted(s.cidr for s in net.spokes.values())
        log_bucket = s3.Bucket.from_bucket_name(self, "CentralLogBucket", naming.log_bucket(cfg))
        self._transit_gateway()
        self._hub_vpc(log_bucket)
        self._links()
        self._shared_endpoints()
        self.rules: dict[str, dict[str, resolver.CfnResolverRule]] = {}
        self.dns_vpcs: dict[str, IsolatedVpc] = {}
        for segment, seg in cfg.network.segments.items():
            if seg.dns is not None:
                self._segment_dns(segment, log_bucket)
        self._dns_firewall()
        self._query_logs()
        profile_ids = self._dns_delivery()
        self.shares = HubShares(
            transit_gateway_id=self.transit_gateway.attr_id,
            firewall_rule_group_id=self.firewall.attr_id,
            resolver_rule_ids={
                segment: {domain: rule.attr_resolver_rule_id for domain, rule in rules.items()}
                for segment, rules in self.rules.items()
            },
            zone_ids={service: zone.hosted_zone_id for service, zone in self.zones.items()},
            profile_ids=profile_ids,
        )

    def _transit_gateway(self) -> None:
        """One route table per segment, plus the hub's; shared with the spoke accounts."""
        cfg, net = self.cfg, self.cfg.network
        self.transit_gateway = ec2.CfnTransitGateway(
            self,
            "TransitGateway",
            amazon_side_asn=net.transit_gateway_asn,
            default_route_table_association="disable",
            default_route_table_propagation="disable",
            auto_accept_shared_attachments="enable",
            dns_support="enable",
            vpn_ecmp_support="enable",
            multicast_support="disable",
            description=f"{cfg.name}: segments {', '.join(net.segments)}",
        )
        tgw_id = self.transit_gateway.attr_id
        self.route_tables: dict[str, ec2.CfnTransitGatewayRouteTable] = {}
        for name in [HUB_TABLE, *net.segments]:
            table = ec2.CfnTransitGatewayRouteTable(self, f"{pascal(name)}RouteTable", transit_gateway_id=tgw_id)
            cdk.Tags.of(table).add("Name", f"{cfg.name}-{name}")
            cdk.Tags.of(table).add("Segment", name)
            self.route_tables[name] = table
        ram.CfnResourceShare(
            self,
            "TransitGatewayShare",
            name=f"{cfg.name}-transit-gateway",
            allow_external_principals=False,
            principals=self.spoke_accounts,
            resource_arns=[self.format_arn(service="ec2", resource="transit-gateway", resource_name=tgw_id)],
        )

    def _hub_vpc(self, log_bucket: s3.IBucket) -> None:
        """The hub VPC and its attachment: every segment's spokes reach the shared endpoints; the hub routes back to
        the spokes and to nothing else. Its table learns only the spokes' VPC routes, never a link's: a link's
        advertisement there (a /32 of a My Number server over the LGWAN VPN, say) would capture replies meant for
        another segment."""
        net = self.cfg.network
        tgw_id = self.transit_gateway.attr_id
        self.hub = IsolatedVpc(
            self,
            "HubVpc",
            cidr=net.hub_cidr,
            zones=self.cfg.zones(self.region),
            tiers=netplan.HUB_TIERS,
            log_bucket=log_bucket,
        )
        hub_attachment = ec2.CfnTransitGatewayVpcAttachment(
            self,
            "HubAttachment",
            transit_gateway_id=tgw_id,
            vpc_id=self.hub.vpc.vpc_id,
            subnet_ids=[s.subnet_id for s in self.hub.subnets("Attachments")],
        )
        cdk.Tags.of(hub_attachment).add("Segment", HUB_TABLE)
        associate(
            self, "HubAttachmentAssociation", attachment_id=hub_attachment.ref, route_table_id=self._table(HUB_TABLE)
        )
        for segment in net.segments:
            propagate(
                self,
                f"HubInto{pascal(segment)}",
                attachment_id=hub_attachment.ref,
                route_table_id=self._table(segment),
            )
        # Spokes addressed from one supernet take one route per route table (20 systems would otherwise take 120).
        if self.spoke_cidrs:
            self.hub.add_routes_to_transit_gateway(netplan.merge(self.spoke_cidrs), tgw_id, hub_attachment)

    def _links(self) -> None:
        """One set of links per segment: the Direct Connect gateway association and the optional VPN. Each link's
        attachment is associated with its segment's table and propagates into it and allowed peers' (never into
        the hub's, which every segment shares)."""
        cfg = self.cfg
        tgw_id = self.transit_gateway.attr_id
        lookups = SdkCalls(
            self,
            "AttachmentLookup",
            statements=[
                iam.PolicyStatement(
                    sid="FindLinkAttachments", actions=["ec2:DescribeTransitGatewayAttachments"], resources=["*"]
                )
            ],
            log_key=self.logs_key,
            log_retention_days=cfg.logging.retention_days,
            purpose="finding the Transit Gateway attachments of Direct Connect and VPN links",
            wildcard_reason="ec2:DescribeTransitGatewayAttachments is a read-only list call that IAM authorizes "
            "only on Resource '*'.",
        )
        for name, seg in cfg.network.segments.items():
            links = Construct(self, f"{pascal(name)}Links")
            dx_association = dx.CfnDirectConnectGatewayAssociation(
                links,
                "DirectConnect",
                direct_connect_gateway_id=seg.direct_connect_gateway_id,
                associated_gateway_id=tgw_id,
                allowed_prefixes_to_direct_connect_gateway=list(seg.direct_connect_allowed_prefixes),
            )
            attachments = [
                self._link_attachment(
                    lookups,
                    links,
                    "DirectConnectAttachment",
                    seg.direct_connect_gateway_id,
                    "direct-connect-gateway",
                    dx_association,
                    segment=name,
                )
            ]
            if seg.vpn is not None:
                gateway = ec2.CfnCustomerGateway(
                    links,
                    "CustomerGateway",
                    bgp_asn=seg.vpn.customer_gateway_asn,
                    ip_address=seg.vpn.customer_gateway_ip,
                    type="ipsec.1",
                )
                vpn = ec2.CfnVPNConnection(
                    links,
                    "Vpn",
                    customer_gateway_id=gateway.ref,
                    transit_gateway_id=tgw_id,
                    type="ipsec.1",
                    static_routes_only=False,
                )
                attachments.append(
                    self._link_attachment(
                        lookups,
                        links,
                        "VpnAttachment",
                        resource_id=vpn.ref,
                        resource_type="vpn",
                        after=vpn,
                        segment=name,
                    )
                )
            for i, attachment_id in enumerate(attachments):
                associate(links, f"Association{i}", attachment_id=attachment_id, route_table_id=self._table(name))
                for target in [name, *cfg.allowed_peers(name)]:
                    propagate(
                        links,
                        f"Into{pascal(target)}{i}",
                        attachment_id=attachment_id,
                        route_table_id=self._table(target),
                    )

    def _shared_endpoints(self) -> None:
        """Interface endpoints shared with every spoke, reached through a private hosted zone per service."""
        net = self.cfg.network
        all_accounts = sorted({a.id for a in self.cfg.accounts.values()})
        region = self.region
        endpoint_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.hub.vpc,
            description="Shared interface endpoints: HTTPS from the hub and the spokes",
            allow_all_outbound=False,
        )
        for cidr in netplan.merge([net.hub_cidr, *self.spoke_cidrs]):  # merged: a group holds at most 60 rules
            endpoint_group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), f"HTTPS from {cidr}")
        self.zones: dict[str, route53.PrivateHostedZone] = {}
        for service in net.endpoint_services:
            endpoint = ec2.InterfaceVpcEndpoint(
                self,
                f"Endpoint{pascal(service)}",
                vpc=self.hub.vpc,
                service=ec2.InterfaceVpcEndpointAwsService(service),
                subnets=ec2.SubnetSelection(subnet_group_name="Endpoints"),
                security_groups=[endpoint_group],
                private_dns_enabled=False,
                open=False,
            )
            endpoint.add_to_policy(endpoint_policy_statement(all_accounts))
            zone = route53.PrivateHostedZone(
                self, f"Zone{pascal(service)}", zone_name=f"{service}.{region}.amazonaws.com", vpc=self.hub.vpc
            )
            route53.ARecord(
                zone,
                "Apex",
                zone=zone,
                target=route53.RecordTarget.from_alias(targets.InterfaceVpcEndpointTarget(endpoint)),
            )
            self.zones[service] = zone

    def _segment_dns(self, segment: str, log_bucket: s3.IBucket) -> None:
        """The segment's own DNS VPC, attached in the segment: an inbound endpoint for the segment's city hall side
        only, an outbound one to the segment's DNS servers only, the forwarding rules its spokes get, and the
        shared endpoints' zones. Resolver rules act per VPC: one resolver for every segment would answer one
        segment's queries with another's servers, a channel between them."""
        cfg, net = self.cfg, self.cfg.network
        seg = net.segments[segment]
        assert seg.dns is not None
        scope = Construct(self, f"{pascal(segment)}Dns")
        tgw_id = self.transit_gateway.attr_id
        dns_vpc = IsolatedVpc(
            scope,
            "Vpc",
            cidr=seg.dns.cidr,
            zones=cfg.zones(self.region),
            tiers=netplan.DNS_TIERS,
            log_bucket=log_bucket,
        )
        self.dns_vpcs[segment] = dns_vpc
        attachment = ec2.CfnTransitGatewayVpcAttachment(
            scope,
            "Attachment",
            transit_gateway_id=tgw_id,
            vpc_id=dns_vpc.vpc.vpc_id,
            subnet_ids=[s.subnet_id for s in dns_vpc.subnets("Attachments")],
        )
        cdk.Tags.of(attachment).add("Segment", segment)
        associate(scope, "Association", attachment_id=attachment.ref, route_table_id=self._table(segment))
        propagate(scope, "Propagation", attachment_id=attachment.ref, route_table_id=self._table(segment))
        dns_vpc.add_routes_to_transit_gateway(netplan.merge(list(seg.on_premises_cidrs)), tgw_id, attachment)
        inbound_group = ec2.SecurityGroup(
            scope,
            "InboundSecurityGroup",
            vpc=dns_vpc.vpc,
            description=f"DNS from the city hall networks of the {segment} segment",
            allow_all_outbound=False,
        )
        for cidr in seg.on_premises_cidrs:
            for port in (ec2.Port.tcp(53), ec2.Port.udp(53)):
                inbound_group.add_ingress_rule(ec2.Peer.ipv4(cidr), port, f"DNS from {cidr}")
        resolver_subnets = dns_vpc.subnets("Resolver")
        subnet_of_ip = _subnet_for_ips(seg.dns.inbound_ips, seg.dns.cidr, len(resolver_subnets))
        resolver.CfnResolverEndpoint(
            scope,
            "InboundEndpoint",
            direction="INBOUND",
            name=f"{cfg.name}-{segment}-inbound",
            security_group_ids=[inbound_group.security_group_id],
            ip_addresses=[
                resolver.CfnResolverEndpoint.IpAddressRequestProperty(subnet_id=resolver_subnets[i].subnet_id, ip=ip)
                for ip, i in subnet_of_ip
            ],
        )
        outbound_group = ec2.SecurityGroup(
            scope,
            "OutboundSecurityGroup",
            vpc=dns_vpc.vpc,
            description=f"DNS to the DNS servers of the {segment} segment",
            allow_all_outbound=False,
        )
        for ip in seg.dns.servers:
            for port in (ec2.Port.tcp(53), ec2.Port.udp(53)):
                outbound_group.add_egress_rule(ec2.Peer.ipv4(f"{ip}/32"), port, f"DNS to {ip}")
        outbound = resolver.CfnResolverEndpoint(
            scope,
            "OutboundEndpoint",
            direction="OUTBOUND",
            name=f"{cfg.name}-{segment}-outbound",
            security_group_ids=[outbound_group.security_group_id],
            ip_addresses=[
                resolver.CfnResolverEndpoint.IpAddressRequestProperty(subnet_id=s.subnet_id) for s in resolver_subnets
            ],
        )
        self.rules[segment] = {}
        for domain in net.forward_domains:
            rule = resolver.CfnResolverRule(
                scope,
                f"Forward{pascal(domain.replace('.', '-'))}",
                domain_name=domain,
                rule_type="FORWARD",
                resolver_endpoint_id=outbound.attr_resolver_endpoint_id,
                target_ips=[resolver.CfnResolverRule.TargetAddressProperty(ip=ip, port="53") for ip in seg.dns.servers],
                name=f"{cfg.name}-{segment}-{domain.replace('.', '-')}",
            )
            resolver.CfnResolverRuleAssociation(
                scope, f"{rule.node.id}Vpc", resolver_rule_id=rule.attr_resolver_rule_id, vpc_id=dns_vpc.vpc.vpc_id
            )
            self.rules[segment][domain] = rule
        for zone in self.zones.values():  # AWS names resolve to the shared endpoints for the city hall side too
            zone.add_vpc(dns_vpc.vpc)

    def _dns_firewall(self) -> None:
        """Everything blocked but AWS names of Tokyo and Osaka and the configured domains; on the hub, on each DNS VPC
        (the queries of the city hall side) and, shared, on every spoke."""
        cfg = self.cfg
        allowed = resolver.CfnFirewallDomainList(
            self, "AllowedDomains", name=f"{cfg.name}-allowed", domains=dns_allow_list(cfg)
        )
        everything = resolver.CfnFirewallDomainList(self, "AllDomains", name=f"{cfg.name}-all", domains=["*"])
        self.firewall = resolver.CfnFirewallRuleGroup(
            self,
            "DnsFirewall",
            name=f"{cfg.name}-dns-firewall",
            firewall_rules=[
                resolver.CfnFirewallRuleGroup.FirewallRuleProperty(
                    action="ALLOW", firewall_domain_list_id=allowed.attr_id, priority=100
                ),
                resolver.CfnFirewallRuleGroup.FirewallRuleProperty(
                    action="BLOCK", block_response="NXDOMAIN", firewall_domain_list_id=everything.attr_id, priority=200
                ),
            ],
        )
        for construct_id, vpc, name in self._dns_vpcs():
            resolver.CfnFirewallRuleGroupAssociation(
                self,
                f"DnsFirewall{construct_id}",
                firewall_rule_group_id=self.firewall.attr_id,
                vpc_id=vpc.vpc_id,
                priority=101,
                # Production: nobody can change the association's rules in place; staging can be torn down.
                mutation_protection="ENABLED" if cfg.is_production else "DISABLED",
                name=f"{cfg.name}-{name}",
            )

    def _dns_vpcs(self) -> list[tuple[str, ec2.IVpc, str]]:
        """The hub and each segment's DNS VPC: (construct ID suffix, VPC, name)."""
        return [
            ("Hub", self.hub.vpc, "hub"),
            *((f"{pascal(s)}Dns", v.vpc, f"{s}-dns") for s, v in sorted(self.dns_vpcs.items())),
        ]

    def _query_logs(self) -> None:
        cfg = self.cfg
        query_logs = resolver.CfnResolverQueryLoggingConfig(
            self,
            "QueryLogging",
            name=f"{cfg.name}-hub",
            destination_arn=f"arn:aws:s3:::{naming.log_bucket(cfg)}/{naming.RESOLVER_LOGS_PREFIX}",
        )
        for construct_id, vpc, _ in self._dns_vpcs():
            resolver.CfnResolverQueryLoggingConfigAssociation(
                self,
                f"QueryLogging{construct_id}",
                resolver_query_log_config_id=query_logs.attr_id,
                resource_id=vpc.vpc_id,
            )

    def _dns_delivery(self) -> dict[str, str]:
        """The hub's DNS delivered to the spokes, each segment's rules to that segment's spokes only: through RAM, or
        as one Route 53 Profile per segment (their IDs are returned)."""
        cfg, net = self.cfg, self.cfg.network
        accounts_of = {
            segment: sorted({cfg.account_id(s.account) for s in net.spokes.values() if s.segment == segment})
            for segment in net.segments
        }
        profile_ids: dict[str, str] = {}
        if net.dns_delivery == "ram":
            if self.spoke_accounts:
                ram.CfnResourceShare(
                    self,
                    "DnsShare",
                    name=f"{cfg.name}-dns-firewall",
                    allow_external_principals=False,
                    principals=self.spoke_accounts,
                    resource_arns=[self.firewall.attr_arn],
                )
            for segment, rules in sorted(self.rules.items()):
                if accounts_of[segment] and rules:
                    ram.CfnResourceShare(
                        self,
                        f"{pascal(segment)}DnsShare",
                        name=f"{cfg.name}-{segment}-dns",
                        allow_external_principals=False,
                        principals=accounts_of[segment],
                        resource_arns=[r.attr_arn for r in rules.values()],
                    )
            return profile_ids
        for segment in sorted(s for s in net.segments if accounts_of[s]):
            profile = profiles.CfnProfile(self, f"{pascal(segment)}DnsProfile", name=f"{cfg.name}-{segment}-dns")
            profile_ids[segment] = profile.attr_id
            resources = {f"Zone{pascal(s)}": z.hosted_zone_arn for s, z in self.zones.items()}
            resources |= {rule.node.id: rule.attr_arn for rule in self.rules.get(segment, {}).values()}
            for name, arn in resources.items():
                profiles.CfnProfileResourceAssociation(
                    profile, name, profile_id=profile.attr_id, resource_arn=arn, name=name
                )
            profiles.CfnProfileResourceAssociation(
                profile,
                "DnsFirewall",
                profile_id=profile.attr_id,
                resource_arn=self.firewall.attr_arn,
                name="dns-firewall",
                resource_properties='{"priority": 101}',
            )
            ram.CfnResourceShare(
                self,
                f"{pascal(segment)}DnsShare",
                name=f"{cfg.name}-{segment}-dns-profile",
                allow_external_principals=False,
                principals=accounts_of[segment],
                resource_arns=[profile.attr_arn],
            )
        return profile_ids

    def _table(self, name: str) -> str:
        return self.route_tables[name].ref

    def _link_attachment(
        self,
        lookups: SdkCalls,
        scope: Construct,
        construct_id: str,
        resource_id: str,
        resource_type: str,
        after: cdk.CfnResource,
        *,
        segment: str,
    ) -> str:
        """The attachment AWS creates for a Direct Connect gateway association or VPN connection (CloudFormation
        returns no ID for either), read at deploy time with DescribeTransitGatewayAttachments."""
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeTransitGatewayAttachments",
            parameters={
                "Filters": [
                    {"Name": "transit-gateway-id", "Values": [self.transit_gateway.attr_id]},
                    {"Name": "resource-type", "Values": [resource_type]},
                    {"Name": "resource-id", "Values": [resource_id]},
                ]
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"{resource_type}-{resource_id}"),
            output_paths=["TransitGatewayAttachments.0.TransitGatewayAttachmentId"],
        )
        lookup = lookups.call(scope, construct_id, call)
        lookup.node.add_dependency(after)
        # What the segment rule (GC-NET-5) reads: whose attachment this is and what kind of link it carries.
        cfn_lookup = next(c for c in lookup.node.find_all() if isinstance(c, cdk.CfnResource))
        cfn_lookup.add_metadata(ATTACHMENT_METADATA, {"Segment": segment, "Type": resource_type})
        return lookup.get_response_field("TransitGatewayAttachments.0.TransitGatewayAttachmentId")


def _subnet_for_ips(ips: tuple[str, ...], dns_cidr: str, zone_count: int) -> list[tuple[str, int]]:
    """(ip, index of the resolver subnet that holds it); config validation guarantees each lies in one."""
    import ipaddress  # noqa: PLC0415

    subnets = netplan.allocate(dns_cidr, netplan.DNS_TIERS, zone_count)["Resolver"]
    return [(ip, next(i for i, n in enumerate(subnets) if ipaddress.IPv4Address(ip) in n)) for ip in ips]
