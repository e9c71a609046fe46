"""Config loading: the shipped files are valid, and each kind of bad input gets a message that names it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from govcloud.config import CONFIG_DIR, ConfigError, load, parse, resolve
from tests.conftest import config_data, write_config


def test_shipped_configs_load(stg_cfg, prod_cfg) -> None:
    assert stg_cfg.prefix == "KobeStg" and not stg_cfg.is_production
    assert prod_cfg.prefix == "KobeProd" and prod_cfg.is_production
    assert stg_cfg.municipality.name_ja == "神戸市"
    # A distinct account per role, and no account shared between staging and production.
    for cfg in (stg_cfg, prod_cfg):
        ids = [a.id for a in cfg.accounts.values()]
        assert len(set(ids)) == len(ids) >= 5
    assert not {a.id for a in stg_cfg.accounts.values()} & {a.id for a in prod_cfg.accounts.values()}


def test_models_are_frozen(stg_cfg) -> None:
    with pytest.raises(Exception, match="frozen"):
        stg_cfg.environment.name = "other"  # type: ignore[misc]


def test_kobe_configs_match_what_the_government_cloud_applies(stg_cfg, prod_cfg) -> None:
    for cfg in (stg_cfg, prod_cfg):
        assert not any(dict(cfg.account_services).values())
    assert stg_cfg.log_archive.object_lock_mode == "GOVERNANCE"
    assert prod_cfg.log_archive.object_lock_mode == "COMPLIANCE"


def test_derived_names(stg_cfg) -> None:
    from govcloud import naming

    assert naming.log_bucket(stg_cfg) == "kobe-stg-log-archive-111100000001-ap-northeast-1"
    assert naming.log_archive_key_arn(stg_cfg) == "arn:aws:kms:ap-northeast-1:111100000001:alias/kobe-stg/log-archive"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[last]

    return edit


# (case id, edit, expected fragments of the message: key path, bad value, what is allowed)
BAD_CONFIGS = [
    ("region us-east-1", _set("regions.primary.name", "us-east-1"), ["regions.primary.name", "'us-east-1'", "ap-northeast-1", "ap-northeast-3"]),
    ("zone of another region", _set("regions.primary.availability_zones", ["ap-northeast-1a", "ap-northeast-3b"]), ["regions.primary.availability_zones[1]", "'ap-northeast-3b'", "not a zone of ap-northeast-1", "ap-northeast-1c"]),
    ("single zone", _set("regions.dr.availability_zones", ["ap-northeast-3a"]), ["regions.dr.availability_zones", "at least 2"]),
    ("duplicate zone", _set("regions.dr.availability_zones", ["ap-northeast-3a", "ap-northeast-3a"]), ["regions.dr.availability_zones", "listed once"]),
    ("dr equals primary", _set("regions.dr", {"name": "ap-northeast-1", "availability_zones": ["ap-northeast-1a", "ap-northeast-1c"]}), ["regions.dr.name", "must differ"]),
    ("typo'd key", lambda d: d["log_archive"].update(object_lock_dyas=7), ["log_archive.object_lock_dyas", "unknown key", "did you mean 'object_lock_days'"]),
    ("unknown top-level key", lambda d: d.update(networks={}), ["networks", "unknown key", "allowed keys"]),
    ("missing key", _delete("alarms.emails"), ["alarms.emails", "required key is missing"]),
    ("short account id", _set("accounts.network.id", "12345"), ["accounts.network.id", "'12345'", "[0-9]{12}"]),
    ("unquoted account id", _set("accounts.network.id", 111100000002), ["accounts.network.id", "111100000002", "quote strings"]),
    ("shared account id", _set("accounts.network.id", "111100000001"), ["accounts.network.id", "already used by accounts.log-archive"]),
    ("bad role name", lambda d: d["accounts"].update({"Resident_Registry": d["accounts"]["linkage"]}), ["accounts.Resident_Registry", "allowed form"]),
    ("unknown data class", _set("accounts.linkage.data_classes", ["mynumber"]), ["accounts.linkage.data_classes[0]", "'mynumber'", "'resident-data'"]),
    ("missing network account", _delete("accounts.network"), ["network.account = 'network'", "not an account of [accounts]"]),
    ("bad e-mail", _set("alarms.emails", ["ops@"]), ["alarms.emails", "'ops@'", "not a valid e-mail address"]),
    ("retention CloudWatch rejects", _set("logging.retention_days", 100), ["logging.retention_days", "100", "365"]),
    ("upper-case environment name", _set("environment.name", "Kobe-Stg"), ["environment.name", "'Kobe-Stg'", "allowed form"]),
    ("unknown stage", _set("environment.stage", "prod"), ["environment.stage", "'prod'", "'staging' or 'production'"]),
    ("bad check digit", _set("municipality.code", "281001"), ["municipality.code", "'281001'", "check digit should be 0"]),
    ("reserved tag", _set("tags.System", "x"), ["tags.System", "reserved"]),
    ("invalid tag value", _set("tags.Owner", "a<b>"), ["tags.Owner", "invalid tag value"]),
    ("aws: tag prefix", lambda d: d["tags"].update({"aws:foo": "x"}), ["tags.aws:foo", "invalid tag key"]),
    ("log archive role unknown", _set("log_archive.account", "archive"), ["log_archive.account", "'archive'", "known accounts"]),
    ("aws-managed alias", _set("log_archive.key_alias", "alias/aws/s3"), ["log_archive.key_alias", "reserved for AWS managed keys"]),
    ("lifecycle out of order", _set("log_archive.infrequent_access_after_days", 120), ["log_archive.glacier_after_days", "later than log_archive.infrequent_access_after_days"]),
    ("expiry before lock ends", _set("log_archive.object_lock_days", 500), ["log_archive.expire_after_days", "object_lock_days"]),
    ("string where a number goes", _set("accounts.network.monthly_budget_usd", "1500"), ["accounts.network.monthly_budget_usd", "'1500'", "valid integer"]),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "fragments"), [pytest.param(e, f, id=i) for i, e, f in BAD_CONFIGS])
def test_bad_config_is_rejected_with_a_clear_message(tmp_path: Path, edit, fragments: list[str]) -> None:
    data = copy.deepcopy(config_data())
    edit(data)
    path = write_config(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid configuration")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_production_requires_compliance_mode_object_lock() -> None:
    data = config_data("kobe-prod")
    data["log_archive"]["object_lock_mode"] = "GOVERNANCE"
    with pytest.raises(
        ConfigError, match=r"log_archive.object_lock_mode = 'GOVERNANCE': production log archives must use COMPLIANCE"
    ):
        parse(data, "kobe-prod.toml")


def test_every_problem_is_reported_at_once() -> None:
    data = config_data()
    data["regions"]["primary"]["name"] = "us-east-1"
    data["alarms"]["emails"] = ["nope"]
    with pytest.raises(ConfigError, match=r"\(2 problems\)") as caught:
        parse(data, "x.toml")
    assert "regions.primary.name" in str(caught.value) and "alarms.emails" in str(caught.value)


def test_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[environment\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML: .*line 1"):
        load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml: configuration file not found"):
        load(tmp_path / "nope.toml")


def test_resolve_environment_names() -> None:
    assert resolve(None, None) == CONFIG_DIR / "kobe-stg.toml"
    assert resolve("kobe-prod", None) == CONFIG_DIR / "kobe-prod.toml"
    assert resolve(None, "/some/where.toml") == Path("/some/where.toml")
    with pytest.raises(
        ConfigError, match=r"-c env=kobe-dev: no file .*kobe-dev.toml; known environments: kobe-prod, kobe-stg"
    ):
        resolve("kobe-dev", None)
    with pytest.raises(ConfigError, match="not both"):
        resolve("kobe-stg", "x.toml")
    with pytest.raises(ConfigError, match="known environments"):
        resolve("../etc/passwd", None)


def test_the_json_schema_is_current_and_the_shipped_configs_satisfy_it() -> None:
    """Editors validate config files against config/schema.json (the #:schema line); it must say what the models
    say. Regenerate with make schema."""
    import json
    import tomllib

    import jsonschema

    from govcloud.config.schema import SCHEMA_FILE, json_schema, render

    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), "config/schema.json is stale: run make schema"
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(CONFIG_DIR.glob("*.toml")):
        assert path.read_text(encoding="utf-8").startswith("#:schema ./schema.json\n"), path
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert [e.message for e in validator.iter_errors(data)] == [], path
    # ... and flags what the models reject: a typo'd key and a wrong type.
    bad = config_data()
    bad["log_archive"]["object_lock_dyas"] = 7
    bad["accounts"]["network"]["id"] = 111100000002
    errors = sorted(e.message for e in validator.iter_errors(bad))
    assert any("object_lock_dyas" in e for e in errors) and any(
        "111100000002 is not of type 'string'" in e for e in errors
    )
    assert json.loads(render())["properties"]["systems"]


def test_cross_checks_run_even_when_other_tables_fail() -> None:
    """One round of errors: a bad region does not hide a linkage dataset naming an unknown producer."""
    data = config_data()
    data["regions"]["primary"]["name"] = "us-east-1"
    data["linkage"]["datasets"]["resident-moves"]["producer"] = "welfare"
    with pytest.raises(ConfigError) as caught:
        parse(data, "x.toml")
    message = str(caught.value)
    assert "regions.primary.name = 'us-east-1'" in message
    assert "linkage.datasets.resident-moves.producer = 'welfare': not a linkage system" not in message  # reads regions
    data = config_data()
    data["alarms"]["emails"] = ["nope"]
    data["log_archive"]["account"] = "archive"
    data["tags"]["System"] = "x"
    with pytest.raises(ConfigError, match=r"\(3 problems\)") as caught:
        parse(data, "x.toml")
    assert "log_archive.account = 'archive': not an account of [accounts]" in str(caught.value)
    assert "tags.System = 'x': reserved" in str(caught.value)


def test_a_bad_image_is_one_plain_line() -> None:
    for value, expected in (
        ("lates", "ami = 'lates': must be \"latest\" or a table of AMI IDs per region, e.g. { ap-northeast-1 = "),
        ({"ap-northeast-1": "ami-xyz"}, "ami = {'ap-northeast-1': 'ami-xyz'}: 'ami-xyz' is not an AMI ID"),
        ({"us-east-1": "ami-0a1b2c3d4e5f60001"}, "'us-east-1' is not a region of this landing zone"),
    ):
        data = config_data()
        data["systems"]["resident-registry"]["roles"]["db"]["ami"] = value
        with pytest.raises(ConfigError, match=r"\(1 problem\)") as caught:
            parse(data, "x.toml")
        line = str(caught.value).splitlines()[1]
        assert line.startswith("  systems.resident-registry.roles.db.ami = ") and expected in line, line
        assert "function-wrap" not in line and "literal" not in line
