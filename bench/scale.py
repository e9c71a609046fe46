"""Configs with 1 to 20 standard business systems, for ``make bench``'s scale measurement.

System 1 is the resident registry of the default config; each further system is a copy of its roles in an account
and spoke of its own (the city's 20 standard systems each run in their own accounts), in the mynumber segment.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_SYSTEM = "resident-registry"
SPOKE_SUPERNET = ipaddress.IPv4Network("10.102.0.0/16")
SPOKE_PREFIX = 22
MAX_SYSTEMS = 20


def scaled_config(systems: int, base: Path = ROOT / "config" / "kobe-stg.toml") -> dict[str, Any]:
    """The default config with ``systems`` business systems (1 to 20)."""
    if not 1 <= systems <= MAX_SYSTEMS:
        raise ValueError(f"systems must be 1 to {MAX_SYSTEMS}, got {systems}")
    data = tomllib.loads(base.read_text(encoding="utf-8"))
    template = data["systems"][TEMPLATE_SYSTEM]
    segment = data["network"]["segments"][data["network"]["spokes"][template["spoke"]]["segment"]]
    blocks = SPOKE_SUPERNET.subnets(new_prefix=SPOKE_PREFIX)
    for n in range(2, systems + 1):
        name = f"system-{n:02d}"
        data["accounts"][name] = {
            "id": f"1111000001{n:02d}",
            "data_classes": ["resident-data"],
            "monthly_budget_usd": 1000,
        }
        cidr = str(next(blocks))
        data["network"]["spokes"][name] = {
            "account": name,
            "segment": "mynumber",
            "cidr": cidr,
        }
        segment["direct_connect_allowed_prefixes"].append(cidr)
        system = copy.deepcopy(template)
        system.update(account=name, spoke=name, name_ja=f"標準準拠システム{n}")
        for role in system["roles"].values():  # the copies call no linkage platform
            role.pop("linkage_caller", None)
        system["certificate_arn"] = system["certificate_arn"].replace("111100000003", data["accounts"][name]["id"])
        data["systems"][name] = system
    return data


def write_scaled_config(systems: int, directory: Path) -> Path:
    path = directory / f"kobe-stg-{systems}-systems.toml"
    path.write_bytes(tomli_w.dumps(scaled_config(systems)).encode())
    return path


def typical_change(assembly_dir: Path) -> None:
    """A new security-group rule on the web hosts and a new bucket in the data lake."""
    nested = next(assembly_dir.glob("assembly-*"))
    system = next(nested.glob("KobeStgSystemResidentRegistry*.template.json"))
    template = json.loads(system.read_text())
    template["Resources"]["WebFromCityHall9443"] = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": {"Fn::GetAtt": ["WebSecurityGroup73AF7387", "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 9443,
            "ToPort": 9443,
            "CidrIp": "172.16.0.0/16",
        },
    }
    system.write_text(json.dumps(template))
    lake = next(nested.glob("KobeStgDataLake[A-F0-9]*.template.json"))
    template = json.loads(lake.read_text())
    bucket = copy.deepcopy(template["Resources"]["AnalyticsBucket22B5943E"])
    bucket["Properties"]["BucketName"] = "kobe-stg-dl-sandbox-111100000005-ap-northeast-1"
    template["Resources"]["SandboxBucket"] = bucket
    lake.write_text(json.dumps(template))
