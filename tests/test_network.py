"""Closed hub-and-spoke network: 三層分離 by Transit Gateway route tables, no internet path anywhere."""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Callable
from typing import Any

import pytest

from govcloud import netplan
from govcloud.config import ConfigError, parse
from tests.conftest import config_data
from tests.support import output_target, props

HUB = "KobeStg-NetworkHub"
RR = "KobeStg-Spoke-ResidentRegistry"
LINKAGE_SPOKE = "KobeStg-Spoke-Linkage"
ATT = "KobeStg-NetworkAttachments"
OPEN = ("0.0.0.0/0", "::/0")


def one_props(resources: dict[str, Any]) -> dict[str, Any]:
    assert len(resources) == 1, list(resources)
    return props(next(iter(resources.values())))


def ref_id(value: Any) -> str:
    """The logical ID a Ref or GetAtt points at (or the literal)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
        if "Fn::GetStackOutput" in value:
            return value["Fn::GetStackOutput"]["OutputName"]
    return str(value)


# ----- negatives over every template of the app -----


@pytest.mark.parametrize("which", ["stg", "prod", "services_on"])
def test_no_internet_path_anywhere(request, which) -> None:
    s = request.getfixturevalue(which)
    for type_ in (
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "AWS::EC2::EgressOnlyInternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
    ):
        assert s.all_resources(type_) == [], type_
    subnets = s.all_resources("AWS::EC2::Subnet")
    assert subnets
    assert [lid for _, lid, r in subnets if props(r).get("MapPublicIpOnLaunch")] == []
    for _, lid, route in s.all_resources("AWS::EC2::Route"):
        assert props(route).get("DestinationCidrBlock") not in OPEN, lid
        assert "DestinationIpv6CidrBlock" not in props(route), lid
        assert "TransitGatewayId" in props(route) or "VpcEndpointId" in props(route), lid


@pytest.mark.parametrize("which", ["stg", "prod", "variant"])
def test_no_security_group_rule_or_nacl_entry_open_to_everything(request, which) -> None:
    s = request.getfixturevalue(which)
    groups = s.all_resources("AWS::EC2::SecurityGroup")
    assert groups
    for _, lid, group in groups:
        for rule in props(group).get("SecurityGroupIngress", []) + props(group).get("SecurityGroupEgress", []):
            assert rule.get("CidrIp") not in OPEN and rule.get("CidrIpv6") not in OPEN, (lid, rule)
    for _, lid, rule in s.all_resources("AWS::EC2::SecurityGroupIngress") + s.all_resources(
        "AWS::EC2::SecurityGroupEgress"
    ):
        assert props(rule).get("CidrIp") not in OPEN, lid
    for _, lid, entry in s.all_resources("AWS::EC2::NetworkAclEntry"):
        assert props(entry).get("CidrBlock") not in OPEN, lid


def test_vpc_block_public_access_in_every_account(stg) -> None:
    accounts = {a["environment"] for a in stg.artifacts.values()}
    with_bpa = {
        stg.artifacts[s]["environment"] for s, _, _ in stg.all_resources("AWS::EC2::VPCBlockPublicAccessOptions")
    }
    assert with_bpa == accounts


# ----- 三層分離: segment route tables -----


def _tables(s) -> dict[str, str]:
    """Route table logical ID -> segment name."""
    return {
        lid: next(t["Value"] for t in props(r)["Tags"] if t["Key"] == "Segment")
        for lid, r in s.resources(HUB, "AWS::EC2::TransitGatewayRouteTable").items()
    }


def _propagations(s) -> dict[str, set[str]]:
    """Segment table -> sources propagated into it (hub template and hub-side attachments stack)."""
    tables = _tables(s)
    out: dict[str, set[str]] = {name: set() for name in tables.values()}
    for stack in (HUB, ATT):
        for lid, r in s.resources(stack, "AWS::EC2::TransitGatewayRouteTablePropagation").items():
            table = ref_id(props(r)["TransitGatewayRouteTableId"])
            table_name = tables.get(table) or next(n for t, n in tables.items() if t in table)
            source = ref_id(props(r)["TransitGatewayAttachmentId"])
            if stack == ATT:
                source = lid.split("Into")[0]  # the spoke's construct
            out[table_name].add(source)
    return out


def test_transit_gateway_settings(stg) -> None:
    tgw = props(stg.resources(HUB, "AWS::EC2::TransitGateway")["TransitGateway"])
    assert tgw["AmazonSideAsn"] == 64512
    assert tgw["DefaultRouteTableAssociation"] == "disable"
    assert tgw["DefaultRouteTablePropagation"] == "disable"
    assert tgw["AutoAcceptSharedAttachments"] == "enable"
    assert sorted(_tables(stg).values()) == ["hub", "lgwan", "mynumber"]
    share = props(stg.resources(HUB, "AWS::RAM::ResourceShare")["TransitGatewayShare"])
    assert share["Principals"] == ["111100000003", "111100000004"]
    assert share["AllowExternalPrincipals"] is False


def test_mynumber_table_reaches_nothing_of_lgwan(stg) -> None:
    sources = _propagations(stg)
    assert sources["mynumber"] == {
        "HubAttachment",
        "MynumberLinksDirectConnectAttachmentE7A59E2B",
        "MynumberDnsAttachmentCEA3D482",
        "ResidentRegistry",
        "Linkage",
    }
    assert not any("Lgwan" in source for source in sources["mynumber"])
    assert sources["lgwan"] == {
        "HubAttachment",
        "LgwanLinksDirectConnectAttachmentFF739094",
        "LgwanLinksVpnAttachment1CDBA21F",
        "LgwanDnsAttachment4BF5D857",
    }


def test_the_hub_table_learns_the_spokes_only_never_a_link(stg) -> None:
    """Finding: the hub's table learned every link's routes, the LGWAN VPN's included; an advertisement more specific
    than a My Number prefix would pull hub traffic (replies to My Number spokes) onto the internet-borne VPN."""
    sources = _propagations(stg)
    assert sources["hub"] == {"ResidentRegistry", "Linkage"}  # VPC attachments: they carry their own CIDRs only
    hub_vpc_routes = {
        props(r)["DestinationCidrBlock"]
        for lid, r in stg.resources(HUB, "AWS::EC2::Route").items()
        if lid.startswith("HubVpc")
    }
    assert hub_vpc_routes == {"10.101.0.0/19"}  # both spokes merged; no city hall network at all


def test_mynumber_links_are_associated_with_the_mynumber_table_only(stg) -> None:
    tables = _tables(stg)
    associations = {}
    for r in stg.resources(HUB, "AWS::EC2::TransitGatewayRouteTableAssociation").values():
        associations.setdefault(ref_id(props(r)["TransitGatewayAttachmentId"]), set()).add(
            tables[ref_id(props(r)["TransitGatewayRouteTableId"])]
        )
    assert associations == {
        "HubAttachment": {"hub"},
        "MynumberLinksDirectConnectAttachmentE7A59E2B": {"mynumber"},
        "MynumberDnsAttachmentCEA3D482": {"mynumber"},
        "LgwanLinksDirectConnectAttachmentFF739094": {"lgwan"},
        "LgwanLinksVpnAttachment1CDBA21F": {"lgwan"},
        "LgwanDnsAttachment4BF5D857": {"lgwan"},
    }
    spokes = [
        (output_target(stg, props(r)["TransitGatewayAttachmentId"]), ref_id(props(r)["TransitGatewayRouteTableId"]))
        for r in stg.resources(ATT, "AWS::EC2::TransitGatewayRouteTableAssociation").values()
    ]
    # each spoke's attachment, read from its stack at deploy time, is associated with the mynumber table only
    assert sorted(target for target, _ in spokes) == [
        (LINKAGE_SPOKE, {"Ref": "TransitGatewayAttachment"}),
        (RR, {"Ref": "TransitGatewayAttachment"}),
    ]
    assert all("MynumberRouteTable" in table for _, table in spokes)


def test_mynumber_spoke_routes_reach_nothing_of_lgwan(stg, stg_cfg) -> None:
    lgwan = [ipaddress.IPv4Network(c) for c in stg_cfg.network.segments["lgwan"].on_premises_cidrs]
    destinations = {props(r)["DestinationCidrBlock"] for r in stg.resources(RR, "AWS::EC2::Route").values()}
    # hub, city hall (mynumber), and the mynumber spokes' supernet (linkage and this spoke: the local route wins)
    assert destinations == {"10.100.0.0/22", "172.16.0.0/16", "10.101.0.0/19"}
    assert not any(ipaddress.IPv4Network(d).overlaps(n) for d in destinations for n in lgwan)


def test_an_allowed_pair_opens_both_tables(variant) -> None:
    sources = _propagations(variant)
    assert "LgwanLinksDirectConnectAttachmentFF739094" in sources["internet"]
    assert {"Portal"} <= sources["lgwan"] and {"LgwanApps"} <= sources["internet"]
    assert not {"Portal", "LgwanApps"} & sources["mynumber"]  # My Number pairs with nobody
    portal = "KobeStg-Spoke-Portal"
    destinations = {props(r)["DestinationCidrBlock"] for r in variant.resources(portal, "AWS::EC2::Route").values()}
    assert {"172.20.0.0/16", "10.103.0.0/20"} <= destinations and "172.16.0.0/16" not in destinations


def test_the_segment_rule_holds_on_every_shipped_environment(stg, prod) -> None:
    """GC-NET-5 over the real templates (the synth also runs it): nothing reaches out of its segment."""
    from govcloud.compliance.rules import Settings, Stack, check_segment_isolation

    settings = Settings(production=False, environment="x", municipality="x", min_log_retention_days=1)
    for synthesized in (stg, prod):
        stacks = [
            Stack(name=n, region="", template=synthesized.template(n), stack_name=n) for n in synthesized.templates
        ]
        assert list(check_segment_isolation(stacks, settings)) == []


# ----- links -----


def test_one_direct_connect_association_per_segment_and_vpn_only_for_lgwan(stg) -> None:
    dx = {
        lid.split("Links")[0]: props(r)
        for lid, r in stg.resources(HUB, "AWS::DirectConnect::DirectConnectGatewayAssociation").items()
    }
    # each segment's DNS VPC and spokes; never the hub, which routes to no city hall network
    assert dx["Mynumber"]["AllowedPrefixesToDirectConnectGateway"] == [
        "10.100.4.0/26",
        "10.101.0.0/20",
        "10.101.16.0/20",
    ]
    assert dx["Lgwan"]["AllowedPrefixesToDirectConnectGateway"] == ["10.100.4.64/26"]
    assert dx["Mynumber"]["DirectConnectGatewayId"] != dx["Lgwan"]["DirectConnectGatewayId"]
    vpns = stg.resources(HUB, "AWS::EC2::VPNConnection")
    assert list(vpns) == [next(lid for lid in vpns if lid.startswith("LgwanLinks"))]
    assert props(next(iter(vpns.values())))["StaticRoutesOnly"] is False
    gateway = props(next(iter(stg.resources(HUB, "AWS::EC2::CustomerGateway").values())))
    assert gateway == {**gateway, "BgpAsn": 65010, "IpAddress": "203.0.113.11", "Type": "ipsec.1"}


# ----- shared endpoints and DNS -----


def test_shared_endpoints_with_our_own_security_group_and_zones(stg, stg_cfg) -> None:
    endpoints = stg.resources(HUB, "AWS::EC2::VPCEndpoint")
    assert len(endpoints) == len(stg_cfg.network.endpoint_services) == 16
    for endpoint in endpoints.values():
        p = props(endpoint)
        assert p["PrivateDnsEnabled"] is False and p["VpcEndpointType"] == "Interface"
        statement = p["PolicyDocument"]["Statement"][0]
        assert statement["Condition"] == {
            "StringEquals": {"aws:PrincipalAccount": sorted(a.id for a in stg_cfg.accounts.values())}
        }
    group = props(
        stg.resources(HUB, "AWS::EC2::SecurityGroup")[
            ref_id(props(next(iter(endpoints.values())))["SecurityGroupIds"][0])
        ]
    )
    # the hub and the two spokes, merged into their supernet
    assert sorted((r["CidrIp"], r["FromPort"]) for r in group["SecurityGroupIngress"]) == [
        ("10.100.0.0/22", 443),
        ("10.101.0.0/19", 443),
    ]
    zones = {props(z)["Name"] for z in stg.resources(HUB, "AWS::Route53::HostedZone").values()}
    assert "ssm.ap-northeast-1.amazonaws.com." in zones and len(zones) == 16
    assert len(stg.resources(HUB, "AWS::Route53::RecordSet")) == 16


def _dns(stg, segment: str) -> dict[str, Any]:
    prefix = f"{segment.title()}Dns"
    return {lid: r for lid, r in stg.resources(HUB).items() if lid.startswith(prefix)}


def test_each_segment_resolves_through_its_own_dns_vpc(stg, stg_cfg) -> None:
    """Finding: one inbound endpoint admitted the LGWAN side and forwarded to the My Number DNS servers, a
    question-and-answer channel between segments. Each segment now has its own resolver, which admits only its own
    city hall side and forwards only to its own servers."""
    assert not [r for lid, r in stg.resources(HUB, "AWS::Route53Resolver::ResolverEndpoint").items()
                if not lid.startswith(("MynumberDns", "LgwanDns"))]  # fmt: skip  # none in the shared hub
    for segment in ("mynumber", "lgwan"):
        seg = stg_cfg.network.segments[segment]
        resources = _dns(stg, segment)
        groups = {lid: props(r) for lid, r in resources.items() if r["Type"] == "AWS::EC2::SecurityGroup"}
        endpoints = {
            props(r)["Direction"]: props(r) for r in resources.values() if r["Type"].endswith("ResolverEndpoint")
        }
        inbound = groups[ref_id(endpoints["INBOUND"]["SecurityGroupIds"][0])]
        assert {r["CidrIp"] for r in inbound["SecurityGroupIngress"]} == set(seg.on_premises_cidrs)
        assert [a["Ip"] for a in endpoints["INBOUND"]["IpAddresses"]] == list(seg.dns.inbound_ips)
        outbound = groups[ref_id(endpoints["OUTBOUND"]["SecurityGroupIds"][0])]
        assert {r["CidrIp"] for r in outbound["SecurityGroupEgress"]} == {f"{ip}/32" for ip in seg.dns.servers}
        (rule,) = [props(r) for r in resources.values() if r["Type"] == "AWS::Route53Resolver::ResolverRule"]
        assert rule["DomainName"] == "city.kobe.lg.jp" and rule["RuleType"] == "FORWARD"
        assert [t["Ip"] for t in rule["TargetIps"]] == list(seg.dns.servers)
        assert all(ipaddress.IPv4Address(t["Ip"]) in ipaddress.IPv4Network(seg.on_premises_cidrs[0])
                   for t in rule["TargetIps"])  # fmt: skip
        subnets = sorted(props(r)["CidrBlock"] for r in resources.values() if r["Type"] == "AWS::EC2::Subnet")
        plan = netplan.allocate(seg.dns.cidr, netplan.DNS_TIERS, 2)
        assert subnets == sorted(str(n) for tier in plan.values() for n in tier)
    mynumber_servers = set(stg_cfg.network.segments["mynumber"].dns.servers)
    lgwan_rules = [props(r) for r in _dns(stg, "lgwan").values() if r["Type"] == "AWS::Route53Resolver::ResolverRule"]
    assert not {t["Ip"] for r in lgwan_rules for t in r["TargetIps"]} & mynumber_servers


def test_firewall_and_query_logs_cover_the_hub_and_every_dns_vpc(stg) -> None:
    firewall = props(stg.resources(HUB, "AWS::Route53Resolver::FirewallRuleGroup")["DnsFirewall"])
    assert [(r["Action"], r["Priority"]) for r in firewall["FirewallRules"]] == [("ALLOW", 100), ("BLOCK", 200)]
    lists = {
        props(r)["Name"]: props(r)["Domains"]
        for r in stg.resources(HUB, "AWS::Route53Resolver::FirewallDomainList").values()
    }
    assert lists["kobe-stg-all"] == ["*"]
    assert (
        "*.ap-northeast-1.amazonaws.com" in lists["kobe-stg-allowed"]
        and "*.city.kobe.lg.jp" in lists["kobe-stg-allowed"]
    )
    associated = {
        ref_id(props(r)["VpcId"])
        for r in stg.resources(HUB, "AWS::Route53Resolver::FirewallRuleGroupAssociation").values()
    }
    logged = {
        ref_id(props(r)["ResourceId"])
        for r in stg.resources(HUB, "AWS::Route53Resolver::ResolverQueryLoggingConfigAssociation").values()
    }
    assert associated == logged and len(associated) == 3 and any(v.startswith("HubVpc") for v in associated)
    logs = props(next(iter(stg.resources(HUB, "AWS::Route53Resolver::ResolverQueryLoggingConfig").values())))
    assert logs["DestinationArn"] == "arn:aws:s3:::kobe-stg-log-archive-111100000001-ap-northeast-1/resolver-query-logs"
    zones = stg.resources(HUB, "AWS::Route53::HostedZone").values()
    assert all(len(props(z)["VPCs"]) == 3 for z in zones)  # the hub and both DNS VPCs resolve AWS names alike


def test_each_segments_rules_are_shared_with_that_segments_spoke_accounts_only(stg, variant) -> None:
    shares = {lid: props(r) for lid, r in stg.resources(HUB, "AWS::RAM::ResourceShare").items()}
    assert shares["DnsShare"]["Principals"] == ["111100000003", "111100000004"]  # the firewall: every spoke
    assert len(shares["DnsShare"]["ResourceArns"]) == 1
    assert shares["MynumberDnsShare"]["Principals"] == ["111100000003", "111100000004"]
    assert "LgwanDnsShare" not in shares  # no LGWAN spoke in staging: its rules go nowhere
    profiles = {lid: props(r) for lid, r in variant.resources(HUB, "AWS::RAM::ResourceShare").items() if "Dns" in lid}
    assert profiles["MynumberDnsShare"]["Principals"] == ["111100000003", "111100000004", "111100000009"]
    assert profiles["LgwanDnsShare"]["Principals"] == ["111100000008"]
    assert profiles["InternetDnsShare"]["Principals"] == ["111100000007"]


def test_spoke_dns_with_ram_delivery(stg) -> None:
    spoke = stg.resources(RR)
    associations = [props(r) for r in spoke.values() if r["Type"] == "AWS::Route53Resolver::ResolverRuleAssociation"]
    # IDs of its own segment's rule and of the firewall, read from the hub stack at deploy time (no ID in config)
    assert [output_target(stg, a["ResolverRuleId"]) for a in associations] == [
        (HUB, {"Fn::GetAtt": ["MynumberDnsForwardCityKobeLgJpB3FA0D06", "ResolverRuleId"]})
    ]
    firewall = next(
        props(r) for r in spoke.values() if r["Type"] == "AWS::Route53Resolver::FirewallRuleGroupAssociation"
    )
    assert output_target(stg, firewall["FirewallRuleGroupId"]) == (HUB, {"Fn::GetAtt": ["DnsFirewall", "Id"]})
    assert not [r for r in spoke.values() if r["Type"] == "Custom::HostedZoneSharing"]  # in the zones stack
    sharing = one_props(stg.resources("KobeStg-SpokeZones-ResidentRegistry", "Custom::HostedZoneSharing"))
    assert sharing["Mode"] == "associate" and len(sharing["HostedZoneIds"]) == 16
    zone_ids = [output_target(stg, z) for z in sharing["HostedZoneIds"]]
    assert zone_ids[0][0] == HUB and zone_ids[0][1]["Ref"].startswith("ZoneSsm")
    zones = stg.artifacts["KobeStg-SpokeZones-ResidentRegistry"]["dependencies"]
    assert any(d.startswith("KobeStgNetworkAttachments") for d in zones)  # after the hub authorized the VPC
    authorizations = [props(r) for r in stg.resources(ATT, "Custom::HostedZoneSharing").values()]
    assert sorted(output_target(stg, a["VpcId"]) for a in authorizations) == [
        (LINKAGE_SPOKE, {"Ref": "Vpc49347EA9"}),
        (RR, {"Ref": "Vpc49347EA9"}),
    ]
    assert all(a["Mode"] == "authorize" for a in authorizations)


def test_spoke_dns_with_profile_delivery(variant) -> None:
    assert not [name for name in variant.templates if "SpokeZones" in name]  # the Profile carries the zones
    assert variant.resources(RR, "Custom::HostedZoneSharing") == {}
    for spoke, segment in (
        (RR, "Mynumber"),
        ("KobeStg-Spoke-Portal", "Internet"),
        ("KobeStg-Spoke-LgwanApps", "Lgwan"),
    ):
        (association,) = variant.resources(spoke, "AWS::Route53Profiles::ProfileAssociation").values()
        target = output_target(variant, props(association)["ProfileId"])
        assert target[0] == HUB and target[1]["Fn::GetAtt"][0].startswith(f"{segment}DnsProfile")
    per_profile = {}
    for lid, r in variant.resources(HUB, "AWS::Route53Profiles::ProfileResourceAssociation").items():
        per_profile.setdefault(ref_id(props(r)["ProfileId"]), []).append(lid)
    assert sorted(len(v) for v in per_profile.values()) == [16 + 1 + 1] * 3  # zones, its segment's rule, firewall
    assert variant.resources(ATT, "Custom::HostedZoneSharing") == {}


# ----- spoke VPC -----


def test_spoke_subnets_follow_the_plan(stg, stg_cfg) -> None:
    spoke = stg_cfg.network.spokes["resident-registry"]
    plan = netplan.allocate(spoke.cidr, netplan.SPOKE_TIERS, 2)
    expected = sorted(str(n) for subnets in plan.values() for n in subnets)
    actual = sorted(props(r)["CidrBlock"] for r in stg.resources(RR, "AWS::EC2::Subnet").values())
    assert actual == expected
    assert [str(n) for n in plan["Attachments"]] == ["10.101.6.0/28", "10.101.6.16/28"]
    hub_plan = netplan.allocate(stg_cfg.network.hub_cidr, netplan.HUB_TIERS, 2)
    hub_actual = sorted(
        props(r)["CidrBlock"] for lid, r in stg.resources(HUB, "AWS::EC2::Subnet").items() if lid.startswith("HubVpc")
    )
    assert hub_actual == sorted(str(n) for subnets in hub_plan.values() for n in subnets)


def test_spoke_nacls_per_tier(stg) -> None:
    acls = stg.resources(RR, "AWS::EC2::NetworkAcl")
    assert len(acls) == 3
    entries = [props(r) for r in stg.resources(RR, "AWS::EC2::NetworkAclEntry").values()]
    data_in = {
        (e["CidrBlock"], e.get("PortRange", {}).get("From"))
        for e in entries
        if "DataAcl" in ref_id(e["NetworkAclId"]) and not e.get("Egress")
    }
    # the VPC itself, returns from the hub, from S3 (gateway endpoint) and from the city's update servers
    # (WSUS .20 and the RHEL mirror .21, merged into one /31)
    assert data_in == {
        ("10.101.0.0/20", None),
        ("10.100.0.0/22", 1024),
        ("198.51.100.0/24", 1024),
        ("203.0.113.128/25", 1024),
        ("172.16.10.20/31", 1024),
    }
    s3_out = {e["CidrBlock"] for e in entries if e.get("Egress") and e.get("PortRange", {}).get("From") == 443}
    assert {"198.51.100.0/24", "203.0.113.128/25"} <= s3_out
    assert all(e["RuleAction"] == "allow" for e in entries)
    known = {"10.101.0.0/20", "10.100.0.0/22", "172.16.0.0/16", "10.101.0.0/19", "198.51.100.0/24", "203.0.113.128/25"}
    assert {e["CidrBlock"] for e in entries} <= known | {"172.16.10.20/31"}
    # only the spoke whose hosts patch from the update servers reaches them
    linkage = [props(r)["CidrBlock"] for r in stg.resources(LINKAGE_SPOKE, "AWS::EC2::NetworkAclEntry").values()]
    assert "172.16.10.20/31" not in linkage


def test_spoke_gateway_endpoint_admits_accounts_and_aws_agent_buckets(stg) -> None:
    gateway = next(
        props(r)
        for r in stg.resources(RR, "AWS::EC2::VPCEndpoint").values()
        if r["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    )
    statements = {s["Sid"]: s for s in gateway["PolicyDocument"]["Statement"]}
    buckets = statements["AwsOwnedAgentAndRepositoryBuckets"]["Resource"]
    for bucket in (
        "aws-ssm-ap-northeast-1",
        "amazoncloudwatch-agent-ap-northeast-1",
        "patch-baseline-snapshot-ap-northeast-1",
        "al2023-repos-ap-northeast-1-de612dc2",
    ):
        assert f"arn:aws:s3:::{bucket}/*" in buckets
    assert set(statements["ConfiguredAccountsBuckets"]["Condition"]["StringEquals"]) == {
        "aws:PrincipalAccount",
        "s3:ResourceAccount",
    }


def test_spoke_flow_logs_go_to_the_archive_prefix(stg) -> None:
    (flow,) = stg.resources(RR, "AWS::EC2::FlowLog").values()
    p = props(flow)
    assert p["LogDestination"] == "arn:aws:s3:::kobe-stg-log-archive-111100000001-ap-northeast-1/vpc-flow-logs/"
    assert p["DestinationOptions"] == {
        "FileFormat": "parquet",
        "HiveCompatiblePartitions": False,
        "PerHourPartition": True,
    }
    assert p["TrafficType"] == "ALL"


def test_linkage_spoke_has_its_own_execute_api_endpoint(stg) -> None:
    endpoints = [props(r) for r in stg.resources("KobeStg-Spoke-Linkage", "AWS::EC2::VPCEndpoint").values()]
    interface = [e for e in endpoints if e.get("VpcEndpointType") == "Interface"]
    assert len(interface) == 1 and interface[0]["PrivateDnsEnabled"] is True
    assert json.dumps(interface[0]["ServiceName"]).count("execute-api") == 1
    sharing = one_props(stg.resources("KobeStg-SpokeZones-Linkage", "Custom::HostedZoneSharing"))
    assert len(sharing["HostedZoneIds"]) == 16  # execute-api is not a hub service, so all 16 hub zones


# ----- bad network configs -----


def _net(edit) -> str:
    data = copy.deepcopy(config_data())
    edit(data["network"])
    with pytest.raises(ConfigError) as caught:
        parse(data, "net.toml")
    return str(caught.value)


def test_overlapping_cidrs() -> None:
    message = _net(lambda n: n["spokes"]["linkage"].update(cidr="10.101.8.0/21"))
    assert (
        "network.spokes.linkage.cidr = '10.101.8.0/21': overlaps network.spokes.resident-registry.cidr (10.101.0.0/20)"
        in message
    )


def test_resolver_ip_outside_its_subnets() -> None:
    message = _net(lambda n: n["segments"]["mynumber"]["dns"].update(inbound_ips=["10.100.4.40", "10.100.4.26"]))
    assert (
        "network.segments.mynumber.dns.inbound_ips[0] = '10.100.4.40': not a usable address of the Resolver subnets "
        "(10.100.4.0/28, 10.100.4.16/28)" in message
    )
    message = _net(lambda n: n["segments"]["mynumber"]["dns"].update(inbound_ips=["10.100.4.10", "10.100.4.11"]))
    assert (
        "network.segments.mynumber.dns.inbound_ips = ['10.100.4.10', '10.100.4.11']: must lie in at least two"
        in message
    )


def test_a_segment_forwards_only_to_its_own_dns_servers() -> None:
    message = _net(lambda n: n["segments"]["lgwan"]["dns"].update(servers=["172.16.0.53"]))
    assert (
        "network.segments.lgwan.dns.servers[0] = '172.16.0.53': not in this segment's on_premises_cidrs: a segment "
        "forwards only to its own DNS servers (三層分離)" in message
    )
    message = _net(lambda n: n["segments"]["lgwan"]["dns"].update(cidr="10.100.4.64/27"))
    assert "network.segments.lgwan.dns.cidr = '10.100.4.64/27': 10.100.4.64/27 is too small for 2 zones" in message
    retired = _net(lambda n: n.update(on_premises_dns=["172.16.0.53"], resolver_inbound_ips=["10.100.0.138"]))
    assert "network.on_premises_dns: delete this key: each segment forwards to its own DNS servers" in retired
    assert "network.resolver_inbound_ips: delete this key: each segment resolves through its own DNS VPC" in retired


def test_the_my_number_segment_takes_no_vpn_and_no_pair() -> None:
    """Finding: config accepted a VPN on mynumber and a pair joining mynumber to another segment, in production too."""
    message = _net(lambda n: n["segments"]["mynumber"].update(
        vpn={"customer_gateway_ip": "203.0.113.20", "customer_gateway_asn": 65020}))  # fmt: skip
    assert (
        "network.segments.mynumber.vpn: the My Number segment never rides the internet, not even encrypted: Direct "
        "Connect is its only link (三層分離); remove the vpn" in message
    )
    message = _net(lambda n: n.update(allowed_segment_pairs=[["lgwan", "mynumber"]]))
    assert (
        "network.allowed_segment_pairs[0] = ['lgwan', 'mynumber']: the My Number segment talks to no other segment "
        "(三層分離): remove the pair" in message
    )
    hub = _net(
        lambda n: n["segments"]["lgwan"].update(direct_connect_allowed_prefixes=["10.100.0.0/22", "10.100.4.64/26"])
    )
    assert "the hub is shared by every segment and routes to none of their city hall networks" in hub


def test_public_asn() -> None:
    message = _net(lambda n: n.update(transit_gateway_asn=16509))
    assert "network.transit_gateway_asn = 16509: must be a private ASN: 64512-65534 or 4200000000-4294967294" in message


def test_unknown_segment() -> None:
    message = _net(lambda n: n["spokes"]["linkage"].update(segment="internet"))
    assert "network.spokes.linkage.segment = 'internet': unknown segment; known: mynumber, lgwan" in message


def test_link_shared_by_two_segments() -> None:
    message = _net(
        lambda n: n["segments"]["lgwan"].update(
            direct_connect_gateway_id=n["segments"]["mynumber"]["direct_connect_gateway_id"]
        )
    )
    assert (
        "network.segments.lgwan.direct_connect_gateway_id" in message
        and "already the link of segment 'mynumber'" in message
    )
    message = _net(lambda n: n["segments"]["mynumber"].update(vpn=dict(n["segments"]["lgwan"]["vpn"])))
    assert (
        "network.segments.lgwan.vpn.customer_gateway_ip" in message
        and "already the VPN of segment 'mynumber'" in message
    )


def test_prefix_of_another_segment_on_a_link() -> None:
    message = _net(lambda n: n["segments"]["lgwan"].update(direct_connect_allowed_prefixes=["10.101.0.0/20"]))
    assert (
        "network.segments.lgwan.direct_connect_allowed_prefixes[0] = '10.101.0.0/20': not inside this segment's DNS "
        "VPC or spokes: the link would advertise another segment" in message
    )


def test_ids_that_exist_only_after_a_deployment_are_not_config() -> None:
    """Config files that still hold IDs of deployed resources are told to drop them, with the reason."""
    message = _net(lambda n: n.update(ids={"transit_gateway_id": "tgw-01000000000000a"}))
    assert (
        "network.ids: delete this key: config no longer holds the hub's IDs, which exist only after a deployment"
        in message
    )
    message = _net(lambda n: n["spokes"]["linkage"].update(vpc_id="vpc-0100000000000a2"))
    assert "network.spokes.linkage.vpc_id: delete this key: config no longer holds the spoke's VPC ID" in message
    message = _net(lambda n: n["spokes"]["linkage"].update(transit_gateway_attachment_id="tgw-attach-01000000000a2"))
    assert "network.spokes.linkage.transit_gateway_attachment_id: delete this key" in message


def test_unknown_endpoint_service() -> None:
    message = _net(lambda n: n["endpoint_services"].append("s3-outposts"))
    assert "network.endpoint_services[16] = 's3-outposts': unknown; allowed:" in message


def _extra_spokes(cidr: Callable[[int], str]) -> Callable[[dict[str, Any]], None]:
    def add(n: dict[str, Any]) -> None:
        for i in range(10):
            n["spokes"][f"extra-{i}"] = {**n["spokes"]["linkage"], "cidr": cidr(i)}
            n["spokes"][f"extra-{i}"].pop("endpoints_in_spoke", None)

    return add


def test_too_many_networks_for_a_spoke_acl_are_caught() -> None:
    message = _net(_extra_spokes(lambda i: f"10.{110 + i}.0.0/20"))  # ten /20s that are not adjacent
    assert "network ACL would need 29 inbound rules (AWS allows 20 by default)" in message


def test_spokes_under_one_supernet_take_one_route_and_entry() -> None:
    data = copy.deepcopy(config_data())
    _extra_spokes(lambda i: f"10.102.{16 * i}.0/20")(data["network"])  # ten adjacent /20s
    reachable = parse(data, "net.toml").reachable_from("linkage")
    assert reachable == sorted(["10.100.0.0/22", "10.101.0.0/19", "10.102.0.0/17", "10.102.128.0/19", "172.16.0.0/16"])


def test_twenty_systems_under_one_supernet_fit_the_acl_quota() -> None:
    """The city's 20 standard systems, each in its own spoke: the own CIDR must not split the segment's supernet
    (without merging it in, each spoke's ACL would need 21 inbound rules)."""
    from bench.scale import scaled_config

    cfg = parse(scaled_config(20), "kobe-stg with 20 systems")
    assert len(cfg.systems) == 20
    for name in cfg.systems:
        assert len(cfg.reachable_from(name)) <= 6, (name, cfg.reachable_from(name))


def test_route_ids_name_their_destination(stg) -> None:
    """Adding a network must not rename (and so replace) the routes to the others."""
    for stack in (HUB, RR):
        for lid, route in stg.resources(stack, "AWS::EC2::Route").items():
            destination = props(route)["DestinationCidrBlock"]
            assert destination.replace(".", "-").replace("/", "-").replace("-", "") in lid, (stack, lid)


def _acl_entries(s: Any, stack: str) -> dict[tuple[str, str, bool, Any], tuple[str, int]]:
    """Each network ACL entry of a stack by what it admits (ACL, CIDR, direction, ports): its ID and rule number."""
    return {
        (ref_id(p["NetworkAclId"]), p["CidrBlock"], bool(p.get("Egress")), json.dumps(p.get("PortRange"))): (
            lid,
            p["RuleNumber"],
        )
        for lid, r in s.resources(stack, "AWS::EC2::NetworkAclEntry").items()
        for p in [props(r)]
    }


def test_adding_a_network_leaves_the_other_acl_entries_alone(stg, variant) -> None:
    """Allowing lgwan adds its CIDRs to the spoke's ACLs; every entry that was there keeps its ID and number, so
    CloudFormation neither replaces it nor creates a second entry with its number."""
    before, after = _acl_entries(stg, RR), _acl_entries(variant, RR)
    assert set(after) > set(before)  # the variant admits more
    assert {key: after[key] for key in before} == before
    for entries in (before, after):
        numbers = [(acl, egress, number) for (acl, _, egress, _), (_, number) in entries.items()]
        assert len(numbers) == len(set(numbers))  # unique per ACL and direction


def test_acl_rule_numbers_depend_on_the_key_only() -> None:
    keys = [f"Https-10-{i}-0-0-16" for i in range(30)]
    numbers = netplan.acl_rule_numbers(keys)
    assert len(set(numbers.values())) == 30
    assert all(n in netplan.ACL_RULE_NUMBERS for n in numbers.values())
    assert netplan.acl_rule_numbers(keys[::-1]) == numbers
    assert {k: v for k, v in netplan.acl_rule_numbers([*keys[:10], *keys[11:], "New"]).items() if k != "New"} == {
        k: v for k, v in numbers.items() if k != keys[10]
    }


def test_acl_rule_number_collisions_take_the_next_free_number() -> None:
    first = netplan.acl_rule_numbers(["a"])["a"]
    span = len(netplan.ACL_RULE_NUMBERS)
    # find a second key that hashes to the same number: the later one (sorted) moves on by one
    twin = next(f"b{i}" for i in range(10 * span) if netplan.acl_rule_numbers([f"b{i}"])[f"b{i}"] == first)
    assert netplan.acl_rule_numbers(["a", twin]) == {"a": first, twin: first + 1 if first < 32766 else 1000}
