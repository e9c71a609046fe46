from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from govcloud.config import CONFIG_DIR, PROJECT_ROOT, Config, load, parse
from tests.support import Synth, synth

# Lambda runs each function folder as the root of its code: the tests import the handlers the same way.
for function_dir in sorted((PROJECT_ROOT / "govcloud" / "runtime").iterdir()):
    if function_dir.is_dir() and str(function_dir) not in sys.path:
        sys.path.insert(0, str(function_dir))


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


@pytest.fixture(scope="session")
def services_on(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Staging with every account service switched on (a standalone account outside the Government Cloud)."""
    data = config_data()
    data["account_services"] = dict.fromkeys(data["account_services"], True)
    return synth(parse(data, "kobe-stg (services on)"), tmp_path_factory.mktemp("services-on"))


def write_config(tmp_path: Path, data: dict[str, Any], name: str = "bad.toml") -> Path:
    import tomli_w

    path = tmp_path / name
    path.write_bytes(tomli_w.dumps(data).encode())
    return path
