"""Typed, validated environment configuration.

One TOML file per environment under ``config/`` is parsed into frozen pydantic models, one module per area, each
holding its models and its checks side by side: ``accounts`` (the environment and its accounts), ``network``,
``data_lake``, ``linkage``, ``systems`` (business systems and their hosts) and ``operations`` (patching and
backup); ``model`` joins them into :class:`Config`, and ``loader`` reads a file and renders its problems. Any
problem stops the load with a :class:`ConfigError` whose message names the file, the key path, the bad value and
what is allowed. No CDK import; nothing is read but the file given.
"""

from govcloud.config.accounts import (
    CLASSIFICATION_OF,
    CLOUDWATCH_RETENTION_DAYS,
    MANAGED_BY,
    REQUIRED_TAG_KEYS,
    DataClassification,
)
from govcloud.config.base import ConfigError, Problem, pascal
from govcloud.config.data_lake import DATA_LAKE_ZONES
from govcloud.config.loader import (
    CONFIG_DIR,
    DEFAULT_ENVIRONMENT,
    PROJECT_ROOT,
    available_environments,
    load,
    parse,
    resolve,
)
from govcloud.config.model import Config
from govcloud.config.operations import Backup, Patching
from govcloud.config.systems import CITY_HALL, BusinessSystem, HostRole, OsName

__all__ = [
    "CITY_HALL",
    "CLASSIFICATION_OF",
    "CLOUDWATCH_RETENTION_DAYS",
    "CONFIG_DIR",
    "DATA_LAKE_ZONES",
    "DEFAULT_ENVIRONMENT",
    "MANAGED_BY",
    "PROJECT_ROOT",
    "REQUIRED_TAG_KEYS",
    "Backup",
    "BusinessSystem",
    "Config",
    "ConfigError",
    "DataClassification",
    "HostRole",
    "OsName",
    "Patching",
    "Problem",
    "available_environments",
    "load",
    "parse",
    "pascal",
    "resolve",
]
