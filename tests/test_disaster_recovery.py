"""The pilot light in Osaka: a network ready to receive restored hosts, under the same segment rules, touching no
Tokyo stack; its addressing checked by config."""

from __future__ import annotations

import copy
import ipaddress
import json
from typing import Any

import pytest

from govcloud.config import Config, ConfigError, parse, pascal
from govcloud.review.assembly import load as load_assembly
from tests.conftest import config_data
from tests.support import Synth, props, synth

OSAKA = "ap-northeast-3"
HUB = "KobeProd-NetworkHub-Osaka"
SPOKE = "KobeProd-Spoke-ResidentRegistry-Osaka"
RECOVERY = "KobeProd-Recovery-ResidentRegistry"


def test_production_runs_a_pilot_light_with_its_own_addresses_in_osaka(prod: Synth, prod_cfg: Config) -> None:
    dr = prod_cfg.disaster_recovery
    assert dr.mode == "pilot-light"
    for stack in (HUB, SPOKE, "KobeProd-NetworkAttachments-Osaka", "KobeProd-SpokeZones-ResidentRegistry-Osaka"):
        assert prod.artifacts[stack]["environment"].endswith(f"/{OSAKA}"), stack
    (gateway,) = prod.resources(HUB, "AWS::EC2::TransitGateway").values()
    assert props(gateway)["AmazonSideAsn"] == dr.transit_gateway_asn != prod_cfg.network.transit_gateway_asn
    tables = {t["Value"] for r in prod.resources(HUB, "AWS::EC2::TransitGatewayRouteTable").values()
              for t in props(r)["Tags"] if t["Key"] == "Segment"}  # fmt: skip
    assert tables == {"hub", "mynumber", "lgwan"}  # the same segment tables as Tokyo
    cidrs = {props(v)["CidrBlock"] for v in prod.resources(HUB, "AWS::EC2::VPC").values()}
    assert cidrs == {dr.hub_cidr, *(s.dns.cidr for s in dr.segments.values())}
    (spoke_vpc,) = prod.resources(SPOKE, "AWS::EC2::VPC").values()
    assert props(spoke_vpc)["CidrBlock"] == dr.spokes["resident-registry"].cidr
    # reached from the city hall over each segment's Direct Connect gateway, advertising Osaka's prefixes; no VPN
    links = {props(r)["DirectConnectGatewayId"]: sorted(props(r)["AllowedPrefixesToDirectConnectGateway"])
             for r in prod.resources(HUB, "AWS::DirectConnect::DirectConnectGatewayAssociation").values()}  # fmt: skip
    assert links == {
        prod_cfg.network.segments[name].direct_connect_gateway_id: sorted(seg.direct_connect_allowed_prefixes)
        for name, seg in dr.segments.items()
    }
    assert not prod.resources(HUB, "AWS::EC2::VPNConnection")
    services = {props(e)["ServiceName"].split(".")[-1] for e in prod.resources(HUB, "AWS::EC2::VPCEndpoint").values()}
    assert services == set(dr.endpoint_services)
    assert len(prod.resources(HUB, "AWS::Route53Resolver::FirewallRuleGroupAssociation")) == 3  # hub, 2 DNS VPCs
    # no hosts: they come back by restore jobs
    assert not [s for s, _, _ in prod.all_resources("AWS::EC2::Instance") if s.endswith("-Osaka")]
    assert not [n for n in prod.templates if n.startswith("KobeProd-Spoke-Linkage-Osaka")]  # only business systems


def _stacks(synthesized: Synth) -> list[Any]:
    from govcloud.compliance.rules import Stack

    return [Stack(name=n, region="", template=synthesized.template(n), stack_name=n) for n in synthesized.templates]


def test_an_osaka_spoke_cannot_reach_another_segment(prod: Synth) -> None:
    """GC-NET-5 reads Osaka's gateway like Tokyo's: the Osaka spoke propagated into the LGWAN table is a finding."""
    from govcloud.compliance.rules import Settings, check_segment_isolation

    settings = Settings(production=True, environment="x", municipality="x", min_log_retention_days=1)
    stacks = _stacks(prod)
    assert list(check_segment_isolation(stacks, settings)) == []
    hub = prod.template(HUB)
    lgwan_table = next(lid for lid, r in hub["Resources"].items() if r["Type"] == "AWS::EC2::TransitGatewayRouteTable"
                       and {"Key": "Segment", "Value": "lgwan"} in props(r)["Tags"])  # fmt: skip
    hub = copy.deepcopy(hub)  # the LGWAN table published, as a hand-made change would
    hub["Outputs"]["PublishOutputRefLgwanRouteTable"] = {"Value": {"Ref": lgwan_table}}
    broken = copy.deepcopy(prod.template("KobeProd-NetworkAttachments-Osaka"))
    crossing = copy.deepcopy(broken["Resources"]["ResidentRegistryIntoMynumberF683DCCA"])
    crossing["Properties"]["TransitGatewayRouteTableId"]["Fn::GetStackOutput"]["OutputName"] = (
        "PublishOutputRefLgwanRouteTable"
    )
    broken["Resources"]["ResidentRegistryIntoLgwan"] = crossing
    replaced = {"KobeProd-NetworkAttachments-Osaka": broken, HUB: hub}
    stacks = [type(s)(s.name, s.region, replaced.get(s.name, s.template), s.stack_name) for s in stacks]
    findings = list(check_segment_isolation(stacks, settings))
    assert findings and all("Osaka" in f"{f}" for f in findings), findings


def test_a_mode_change_touches_only_osaka_stacks(prod: Synth, prod_cfg: Config, tmp_path) -> None:
    """From copies to a pilot light: the change guard over the Tokyo stacks is empty, and Osaka only gains stacks
    and, in the data lake's Osaka stack, the bucket of the Osaka workgroup's results."""
    from govcloud.review.changes import compare

    copies = synth(prod_cfg.model_copy(update={"disaster_recovery": prod_cfg.disaster_recovery.model_copy(
        update={"mode": "copies"})}), tmp_path / "copies")  # fmt: skip
    after = load_assembly(prod.outdir)
    report = compare(load_assembly(copies.outdir), after)
    region = {s.name: s.region for s in after.stacks}
    changed = [stack for stack in report.by_stack if stack not in report.stacks_added]
    assert [stack for stack in changed if region[stack] != OSAKA] == []  # no Tokyo stack changes
    assert changed == ["KobeProd-DR-DataLake"]
    assert {c.kind for c in report.by_stack["KobeProd-DR-DataLake"]} <= {"added", "changed"}
    assert not report.stacks_removed and not report.blocking(())
    assert set(report.stacks_added) == {HUB, SPOKE, "KobeProd-NetworkAttachments-Osaka",
                                        "KobeProd-SpokeZones-ResidentRegistry-Osaka", RECOVERY,
                                        "KobeProd-DataLakeCatalog-Osaka"}  # fmt: skip


def _pilot_light(**changes: Any) -> dict[str, Any]:
    data = config_data("kobe-prod")
    data["disaster_recovery"].update(changes)
    return data


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"hub_cidr": "10.0.0.0/22"}, "disaster_recovery.hub_cidr", "overlaps 10.0.0.0/22, used in Tokyo"),
        (
            {"transit_gateway_asn": 64520},
            "disaster_recovery.transit_gateway_asn",
            "must differ from network.transit_gateway_asn",
        ),
        (
            {"endpoint_services": ["ssm", "rds"]},
            "disaster_recovery.endpoint_services[1]",
            "not an endpoint service of [network]",
        ),
        ({"spokes": {}}, "disaster_recovery.spokes.resident-registry", "the Osaka CIDR of this system's spoke"),
        ({"hub_cidr": None}, "disaster_recovery.hub_cidr", "required for a pilot light"),
        ({"systems": {}}, "disaster_recovery.systems.resident-registry.certificate_arn", "issued in ap-northeast-3"),
        (
            {
                "systems": {
                    "resident-registry": {
                        "certificate_arn": "arn:aws:acm:ap-northeast-1:222200000003:"
                        "certificate/0a1b2c3d-0000-4000-8000-000000000303"
                    }
                }
            },
            "disaster_recovery.systems.resident-registry.certificate_arn",
            "does not match the allowed form ^arn:aws:acm:ap-northeast-3:",
        ),
        (
            {
                "systems": {
                    "resident-registry": {
                        "certificate_arn": "arn:aws:acm:ap-northeast-3:111111111111:"
                        "certificate/0a1b2c3d-0000-4000-8000-000000000303"
                    }
                }
            },
            "disaster_recovery.systems.resident-registry.certificate_arn",
            "must be in the system's account 222200000003",
        ),
        ({"systems": {"tax": {}}}, "disaster_recovery.systems.tax", "not a business system"),
    ],
)
def test_a_pilot_light_needs_addresses_of_its_own(change: dict[str, Any], key: str, message: str) -> None:
    data = _pilot_light(**{k: v for k, v in change.items() if v is not None})
    for k, v in change.items():
        if v is None:
            del data["disaster_recovery"][k]
    with pytest.raises(ConfigError) as raised:
        parse(data, "kobe-prod (pilot light)")
    assert key in str(raised.value) and message in str(raised.value)


def test_staging_keeps_copies_only(stg: Synth, stg_cfg: Config) -> None:
    assert stg_cfg.disaster_recovery.mode == "copies"
    assert not [
        n
        for n in stg.templates
        if n.startswith(("KobeStg-NetworkHub-Osaka", "KobeStg-Spoke-")) and n.endswith("-Osaka")
    ]
    assert pascal("kobe-stg") == "KobeStg"


def test_make_cost_prices_each_mode(prod_cfg: Config) -> None:
    from govcloud.review import cost

    prices = cost.Prices()
    rows = {r.label: r.usd for r in cost.recovery_lines(prod_cfg, prices)}
    assert rows["8 hub endpoints x 2 zones (Tokyo's rate: no sourced Osaka rate)"] == pytest.approx(8 * 2 * 0.014 * 730)
    assert rows["4 Resolver endpoints x 2 zones (page default rate)"] == pytest.approx(4 * 2 * 0.125 * 730)
    assert rows[
        "4 Transit Gateway attachments (Tokyo's rate: no sourced Osaka rate; links not counted)"
    ] == pytest.approx(4 * 0.07 * 730)
    text = cost.render(prod_cfg, prices, [2])
    assert rows["1 internal load balancers (hours, Tokyo's rate: no sourced Osaka rate)"] == pytest.approx(0.0243 * 730)
    assert "| `copies` | the network" in text and "| `pilot-light` | **total** | **1,119.66** |" in text


def test_restored_hosts_join_security_groups_with_tokyos_rules_on_osakas_addresses(
    prod: Synth, prod_cfg: Config
) -> None:
    """The recovery stack holds each role's group (``recover`` reads their IDs from its outputs); the same ports
    and callers as Tokyo, the hub and S3 of Osaka, the city's update servers."""
    from govcloud import naming

    def rules(stack: str) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for lid, group in prod.resources(stack, "AWS::EC2::SecurityGroup").items():
            role = lid.split("SecurityGroup")[0]
            out[role] = sorted(
                (e.get("CidrIp", "group" if "DestinationSecurityGroupId" in e or "SourceSecurityGroupId" in e else "-"),
                 e.get("FromPort"), e.get("IpProtocol"))
                for e in [*props(group).get("SecurityGroupEgress", []), *props(group).get("SecurityGroupIngress", [])]
            )  # fmt: skip
        return out

    osaka, tokyo = rules(RECOVERY), rules("KobeProd-System-ResidentRegistry")
    tokyo.pop("BackupRestoreTest")  # the weekly restore test's isolated group stays in Tokyo
    assert set(osaka) == set(tokyo) == {"Web", "Db", "Batch", "LoadBalancer"}
    dr, net = prod_cfg.disaster_recovery, prod_cfg.network
    tokyo_spoke = ipaddress.IPv4Network(net.spokes["resident-registry"].cidr)

    def in_osaka(rule: tuple[Any, ...]) -> tuple[Any, ...]:
        return (dr.hub_cidr if rule[0] == net.hub_cidr else rule[0], *rule[1:])

    for role in osaka:
        # Tokyo's hosts also reach the execute-api endpoints in their own spoke; Osaka has none (no linkage there)
        expected = [in_osaka(r) for r in tokyo[role]
                    if not (r[0][0].isdigit() and ipaddress.IPv4Network(r[0]).subnet_of(tokyo_spoke))]  # fmt: skip
        assert osaka[role] == expected, role
    outputs = prod.template(RECOVERY)["Outputs"]
    assert {naming.recovery_group_output(r) for r in ("web", "db", "batch", "load-balancer")} <= set(outputs)
    assert prod.artifacts[RECOVERY]["environment"] == f"aws://{prod_cfg.account_id('resident-registry')}/{OSAKA}"


def test_the_osaka_load_balancer_waits_for_the_restored_web_hosts(prod: Synth, prod_cfg: Config) -> None:
    """Internal, in Osaka's application subnets, TLS with Osaka's certificate, logs in the account's Osaka log
    bucket, forwarding to the web role's port; its target group is empty until ``recover`` registers the hosts."""
    from govcloud import naming

    (lb,) = prod.resources(RECOVERY, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert props(lb)["Scheme"] == "internal"
    attributes = {a["Key"]: a["Value"] for a in props(lb)["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == "true" and attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": next(iter(prod.resources(RECOVERY, "AWS::S3::Bucket")))}
    (bucket,) = prod.resources(RECOVERY, "AWS::S3::Bucket").values()
    assert props(bucket)["BucketName"] == f"kobe-prod-access-logs-{prod_cfg.account_id('resident-registry')}-{OSAKA}"
    (listener,) = prod.resources(RECOVERY, "AWS::ElasticLoadBalancingV2::Listener").values()
    osaka_certificate = prod_cfg.disaster_recovery.systems["resident-registry"].certificate_arn
    assert props(listener)["Certificates"] == [{"CertificateArn": osaka_certificate}]
    assert props(listener)["Port"] == 443 and props(listener)["Protocol"] == "HTTPS"
    (group,) = prod.resources(RECOVERY, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    web = prod_cfg.systems["resident-registry"].roles["web"]
    assert props(group)["Port"] == web.ports[0] and props(group)["TargetType"] == "instance"
    assert "Targets" not in props(group)
    assert naming.recovery_target_group_output("web") in prod.template(RECOVERY)["Outputs"]
    subnets = {s["Fn::GetStackOutput"]["OutputName"] for s in props(lb)["Subnets"]}
    assert all("Application" in name for name in subnets) and len(subnets) == 2


def test_analysts_query_the_osaka_replicas_through_an_osaka_workgroup(prod: Synth, prod_cfg: Config) -> None:
    """Tokyo's analyst and steward roles (IAM is global) get Osaka policies, Lake Formation grants on the replicated
    zones' databases, and a workgroup whose encrypted results stay in Osaka; the crawler runs on demand."""
    from govcloud import naming

    catalog = "KobeProd-DataLakeCatalog-Osaka"
    assert prod.artifacts[catalog]["environment"] == f"aws://{prod_cfg.account_id('data-lake')}/{OSAKA}"
    assert not prod.resources(catalog, "AWS::IAM::Role")  # the roles are Tokyo's
    results = naming.data_lake_bucket(prod_cfg, "results", OSAKA)
    (workgroup,) = prod.resources(catalog, "AWS::Athena::WorkGroup").values()
    configuration = props(workgroup)["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["ResultConfiguration"]["OutputLocation"] == f"s3://{results}/"
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    databases = {
        props(d)["DatabaseInput"]["LocationUri"] for d in prod.resources(catalog, "AWS::Glue::Database").values()
    }
    assert databases == {f"s3://{naming.data_lake_bucket(prod_cfg, z, OSAKA)}/" for z in prod_cfg.data_lake.replicate}
    (settings,) = prod.resources(catalog, "AWS::LakeFormation::DataLakeSettings").values()
    admins = {a["DataLakePrincipalIdentifier"] for a in props(settings)["Admins"]}
    assert naming.cdk_execution_role_arn(prod_cfg, "data-lake", OSAKA) in admins  # it deploys the Osaka grants
    (crawler,) = prod.resources(catalog, "AWS::Glue::Crawler").values()
    assert "Schedule" not in props(crawler)
    grants = {
        (json.dumps(props(g)["Principal"]), tuple(props(g)["Permissions"]), json.dumps(props(g)["Resource"]))
        for g in prod.resources(catalog, "AWS::LakeFormation::PrincipalPermissions").values()
    }
    analyst = [g for g in grants if naming.data_lake_role(prod_cfg, "analyst") in g[0]]
    assert {g[1] for g in analyst} == {("DESCRIBE",), ("SELECT", "DESCRIBE")}
    assert all(naming.glue_database(prod_cfg, "curated") in g[2] for g in analyst)  # raw stays the stewards'
    attached = {tuple(props(p)["Roles"]): p for p in prod.resources(catalog, "AWS::IAM::ManagedPolicy").values()}
    assert (naming.data_lake_role(prod_cfg, "analyst"),) in attached
    statements = props(attached[(naming.data_lake_role(prod_cfg, "analyst"),)])["PolicyDocument"]["Statement"]
    assert any(
        f":{OSAKA}:" in json.dumps(s["Resource"]) and "athena:StartQueryExecution" in s["Action"] for s in statements
    )
    # the results bucket is Osaka's, only the analysts and stewards read it, and its reads are audited
    dr = "KobeProd-DR-DataLake"
    (bucket_id,) = [k for k, b in prod.resources(dr, "AWS::S3::Bucket").items() if props(b)["BucketName"] == results]
    (trail,) = prod.resources(dr, "AWS::CloudTrail::Trail").values()
    assert bucket_id in json.dumps(props(trail)["EventSelectors"])
