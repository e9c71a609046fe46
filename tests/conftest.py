from __future__ import annotations

import copy
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from govcloud.config import CONFIG_DIR, PROJECT_ROOT, Config, load, parse
from tests.support import CliRun, CliRuns, Synth, synth

# Lambda runs each function folder as the root of its code: the tests import the handlers the same way.
for function_dir in sorted((PROJECT_ROOT / "govcloud" / "runtime").iterdir()):
    if function_dir.is_dir() and str(function_dir) not in sys.path:
        sys.path.insert(0, str(function_dir))


CLI_RUNS = CliRuns()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cdk_cli(*args, env=None, prepare=None): a CDK CLI run of this test, started in the background"
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:
        marker = item.get_closest_marker("cdk_cli")
        if marker is not None:
            CLI_RUNS.schedule(item.nodeid, marker.args, marker.kwargs)
    CLI_RUNS.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    CLI_RUNS.close()


@pytest.fixture
def cdk_cli(request: pytest.FixtureRequest) -> CliRun:
    """The test's CDK CLI run (``@pytest.mark.cdk_cli``), once it has finished."""
    return CLI_RUNS.wait(request.node.nodeid)


def config_data(env: str = "kobe-stg") -> dict[str, Any]:
    return tomllib.loads((CONFIG_DIR / f"{env}.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def stg_cfg() -> Config:
    return load(CONFIG_DIR / "kobe-stg.toml")


@pytest.fixture(scope="session")
def prod_cfg() -> Config:
    return load(CONFIG_DIR / "kobe-prod.toml")


@pytest.fixture(scope="session")
def stg(stg_cfg: Config, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The default environment, synthesized once per session."""
    return synth(stg_cfg, tmp_path_factory.mktemp("stg"))


@pytest.fixture(scope="session")
def prod(prod_cfg: Config, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth(prod_cfg, tmp_path_factory.mktemp("prod"))


def variant_data() -> dict[str, Any]:
    """Staging with what its config leaves off, in one environment (one synth for many tests):

    - every account service switched on (a standalone account outside the Government Cloud);
    - DNS through a Route 53 Profile per segment;
    - a third segment (internet) with a spoke, allowed to talk to lgwan, which gets a spoke too;
    - a third My Number spoke, where a second business system (welfare) runs, a copy of the resident registry
      that calls no linkage platform;
    - the resident registry subscribing to a dataset of the tax system (tax-notices);
    - the linkage inbox without malware protection."""
    data = config_data()
    data["account_services"] = dict.fromkeys(data["account_services"], True)
    net = data["network"]
    net["dns_delivery"] = "profile"
    for name, number, classes in (("portal", "7", []), ("lgwan-apps", "8", []), ("welfare", "9", ["resident-data"])):
        data["accounts"][name] = {"id": f"11110000000{number}", "data_classes": classes, "monthly_budget_usd": 100}
    net["segments"]["internet"] = {
        "on_premises_cidrs": ["172.24.0.0/16"],
        "direct_connect_gateway_id": "0a1b2c3d-0000-4000-8000-000000000103",
        "direct_connect_allowed_prefixes": ["10.100.4.128/26", "10.102.0.0/20", "10.103.0.0/20"],
        "dns": {"cidr": "10.100.4.128/26", "inbound_ips": ["10.100.4.138", "10.100.4.154"], "servers": ["172.24.0.53"]},
    }
    net["segments"]["lgwan"]["direct_connect_allowed_prefixes"] = ["10.100.4.64/26", "10.102.0.0/20", "10.103.0.0/20"]
    net["allowed_segment_pairs"] = [["lgwan", "internet"]]
    net["spokes"]["portal"] = {"account": "portal", "segment": "internet", "cidr": "10.102.0.0/20"}
    net["spokes"]["lgwan-apps"] = {"account": "lgwan-apps", "segment": "lgwan", "cidr": "10.103.0.0/20"}
    net["spokes"]["welfare"] = {"account": "welfare", "segment": "mynumber", "cidr": "10.101.32.0/20"}
    net["segments"]["mynumber"]["direct_connect_allowed_prefixes"].append("10.101.32.0/20")
    welfare = copy.deepcopy(data["systems"]["resident-registry"])
    welfare.update(account="welfare", spoke="welfare", name_ja="福祉")
    welfare.pop("certificate_arn")
    welfare["roles"] = {k: {**v, "load_balancer": False, "linkage_caller": False} for k, v in welfare["roles"].items()}
    data["systems"]["welfare"] = welfare
    data["linkage"]["datasets"]["tax-notices"] = {
        "producer": "tax",
        "subscribers": ["resident-registry"],
        "format": "json",
        "key_column": "record_id",
        "columns": {
            "record_id": {"type": "string", "personal": False, "lake": "keep"},
            "amount": {"type": "integer", "lake": "drop"},
        },
    }
    data["linkage"]["exchange"]["malware_protection"] = False
    return data


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """See :func:`variant_data`; synthesized with every pack, like the shipped environments."""
    return synth(parse(variant_data(), "kobe-stg (variant)"), tmp_path_factory.mktemp("variant"))


@pytest.fixture(scope="session")
def services_on(variant: Synth) -> Synth:
    """The variant, for the tests of the account services (all switched on there)."""
    return variant


def write_config(tmp_path: Path, data: dict[str, Any], name: str = "bad.toml") -> Path:
    import tomli_w

    path = tmp_path / name
    path.write_bytes(tomli_w.dumps(data).encode())
    return path
