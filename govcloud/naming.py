"""Every physical name the landing zone gives to what it deploys, in one place.

Stacks name their resources with these functions, policies in other stacks and accounts name the same resources
with the same functions (a role, bucket, key alias or queue that cannot be referenced across accounts), config
validation checks their lengths with them, and the review and operations tools find them again. Accounts are
always named through their config field (``cfg.linkage.account``), never by a literal account name. No CDK
import, and no import of the config package at run time (config validation uses this module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govcloud.config import Config

BUCKET_NAME_MAX = 63
PLACEHOLDER_ACCOUNT = "0" * 12
"""Stands for any account ID when a check needs the length of a name that holds one."""

# ----- tags of business-system hosts -----

SYSTEM_TAG = "System"
ROLE_TAG = "Role"
OS_TAG = "OperatingSystem"
WAVE_TAG = "PatchWave"
WAVES = ("a", "b")
"""Host 1, 3, ... of a role are in wave a, host 2, 4, ... in wave b: the members of a pair never reboot together."""
IMAGE_TAG = "Image"
"""The image a host should run (an AMI ID, or ``latest``); ``govcloud.ops update-image`` brings it there."""
BACKUP_TAG = "Backup"
TIER_SUBNETS = {"application": "Application", "data": "Data"}
"""The spoke subnet group of each host tier."""
AGENT_CONFIG_TAG = "AgentConfig"


def wave_of(index: int) -> str:
    return WAVES[index % len(WAVES)]


# ----- prefixes in the central log bucket: each writer may write under its own prefix and nowhere else -----

CLOUDTRAIL_PREFIX = "cloudtrail"
CONFIG_PREFIX = "config"
FLOW_LOGS_PREFIX = "vpc-flow-logs"
RESOLVER_LOGS_PREFIX = "resolver-query-logs"
SESSION_LOGS_PREFIX = "session-manager"


# ----- buckets -----


def log_bucket(cfg: Config) -> str:
    return f"{cfg.name}-log-archive-{log_archive_account_id(cfg)}-{cfg.regions.primary.name}"


def access_log_bucket(cfg: Config, account_id: str, region: str) -> str:
    """One per account and region that has buckets: S3 delivers access logs only within both."""
    return f"{cfg.name}-access-logs-{account_id}-{region}"


def data_lake_bucket(cfg: Config, zone: str, region: str | None = None) -> str:
    """``zone`` is raw, curated, analytics or results; Osaka replicas carry the DR region in their name."""
    account = cfg.account_id(cfg.data_lake.account)
    return f"{cfg.name}-dl-{zone}-{account}-{region or cfg.regions.primary.name}"


def exchange_bucket(cfg: Config) -> str:
    account = cfg.account_id(cfg.linkage.account)
    return f"{cfg.name}-linkage-exchange-{account}-{cfg.regions.primary.name}"


def longest_bucket_names(cfg: Config, zones: tuple[str, ...]) -> list[str]:
    """The longest name of each kind of bucket, for any account ID (for the 63-character limit)."""
    any_account = PLACEHOLDER_ACCOUNT
    primary, dr = cfg.regions.primary.name, cfg.regions.dr.name
    longest = max(zones, key=len)
    return [
        f"{cfg.name}-log-archive-{any_account}-{primary}",
        access_log_bucket(cfg, any_account, primary),
        *(f"{cfg.name}-dl-{longest}-{any_account}-{region}" for region in (primary, dr)),
    ]


# ----- accounts and roles -----


def log_archive_account_id(cfg: Config) -> str:
    return cfg.account_id(cfg.log_archive.account)


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def data_lake_role(cfg: Config, purpose: str) -> str:
    """The data lake's roles (analyst, steward, ingestion, crawler, lake-formation, replication)."""
    return f"{cfg.name}-dl-{purpose}"


def data_lake_role_arn(cfg: Config, purpose: str) -> str:
    """Deterministic, so that bucket policies of the storage stack name the roles of the catalog stack."""
    return role_arn(cfg.account_id(cfg.data_lake.account), data_lake_role(cfg, purpose))


def linkage_function_role(cfg: Config, purpose: str) -> str:
    """The role of a linkage function (``api``, ``files``)."""
    return f"{cfg.name}-linkage-{purpose}"


LINKAGE_FUNCTIONS = ("api", "files")


def linkage_function_role_arns(cfg: Config) -> list[str]:
    """The roles of both linkage functions: the only principals that read the exchange and compute tokens."""
    account = cfg.account_id(cfg.linkage.account)
    return [role_arn(account, linkage_function_role(cfg, purpose)) for purpose in LINKAGE_FUNCTIONS]


def linkage_malware_scan_role(cfg: Config) -> str:
    """The role GuardDuty Malware Protection for S3 scans and tags the exchange's inbox with."""
    return f"{cfg.name}-linkage-malware-scan"


def linkage_caller_role_arns(cfg: Config, system: str) -> list[str]:
    """The roles a system calls the linkage platform with (its own account's, as config lists them)."""
    entry = cfg.linkage.systems[system]
    return [role_arn(entry.account, name) for name in entry.caller_roles]


def host_role(cfg: Config, system: str, role: str) -> str:
    """The IAM role the hosts of one host role (web, db, batch) of a system run as."""
    return f"{system_prefix(cfg, system)}-{role}-host"


BOOTSTRAP_QUALIFIER = "hnb659fds"
"""The CDK bootstrap's default qualifier, in the names of the roles it creates."""


def cdk_execution_role_arn(cfg: Config, account: str, region: str | None = None) -> str:
    """The role CloudFormation deploys with in an account of ``[accounts]`` (CDK bootstrap, default qualifier)."""
    account_id = cfg.account_id(account)
    region = region or cfg.regions.primary.name
    return role_arn(account_id, f"cdk-{BOOTSTRAP_QUALIFIER}-cfn-exec-role-{account_id}-{region}")


# ----- keys -----


def key_alias(cfg: Config, data_class: str) -> str:
    """Alias of an account's key of one data class (``logs``, ``resident-data``, ...)."""
    return f"alias/{cfg.name}/{data_class}"


def dr_key_alias(cfg: Config, data_class: str) -> str:
    return f"alias/{cfg.name}/{data_class}-dr"


def dr_key_alias_arn(cfg: Config, account: str, data_class: str) -> str:
    """Deterministic, so that Tokyo stacks can name the Osaka key without a cross-region reference."""
    return f"arn:aws:kms:{cfg.regions.dr.name}:{cfg.account_id(account)}:{dr_key_alias(cfg, data_class)}"


def log_archive_key_arn(cfg: Config) -> str:
    """The alias ARN by which other accounts refer to the log archive key (its alias comes from config)."""
    return f"arn:aws:kms:{cfg.regions.primary.name}:{log_archive_account_id(cfg)}:{cfg.log_archive.key_alias}"


def pseudonymization_key_alias(cfg: Config) -> str:
    return f"alias/{cfg.name}/linkage-pseudonymization"


def queue_key_alias(cfg: Config) -> str:
    return f"alias/{cfg.name}/linkage-queues"


def session_key_alias(cfg: Config, system: str) -> str:
    return f"alias/{cfg.name}/{system}/sessions"


# ----- log groups, trails, topics, queues, buses, APIs -----


def system_log_prefix(cfg: Config, system: str) -> str:
    """Every log group of a system's hosts is named ``/<env>/<system>/...``."""
    return f"/{cfg.name}/{system}"


def linkage_log_group(cfg: Config, purpose: str) -> str:
    return f"/{cfg.name}/linkage/{purpose}"


def trail(cfg: Config, purpose: str) -> str:
    """Trail names; the log bucket admits trails named ``<env>-*`` only."""
    return f"{cfg.name}-{purpose}"


def recovery_group_output(role: str) -> str:
    """The output of an Osaka recovery stack that holds a host role's security group ID (``recover`` reads it)."""
    return "".join(part.capitalize() for part in role.split("-")) + "SecurityGroupId"


def recovery_target_group_output(role: str) -> str:
    """The output of an Osaka recovery stack that holds the target group a restored host of ``role`` joins."""
    return "".join(part.capitalize() for part in role.split("-")) + "TargetGroupArn"


def operations_role(cfg: Config) -> str:
    """The read-only operations role, the same name in every account (``python -m govcloud.ops`` assumes it)."""
    return f"{cfg.name}-operations-read-only"


def security_topic(cfg: Config) -> str:
    return f"{cfg.name}-security-alarms"


def operations_topic(cfg: Config, system: str) -> str:
    return f"{system_prefix(cfg, system)}-operations"


def system_queue(cfg: Config, system: str) -> str:
    """The queue of a linkage system (a subscriber's notices of new batches, a producer's of quarantined ones).
    Deterministic, so that the system's roles (in its own account) can name the queue they read."""
    return f"{cfg.name}-linkage-{system}"


def linkage_bus(cfg: Config) -> str:
    return f"{cfg.name}-linkage"


def linkage_api(cfg: Config) -> str:
    return f"{cfg.name}-linkage"


LINKAGE_API_VERSION = "v1"


def dataset_route(verb: str, dataset: str) -> str:
    """The API route of a dataset: producers POST a batch, subscribers GET one record (``*`` is its ID)."""
    suffix = "" if verb == "POST" else "/*"
    return f"/{verb}/{LINKAGE_API_VERSION}/datasets/{dataset}/records{suffix}"


def inbox_objects(dataset: str, producer: str) -> str:
    """Where a producer uploads files of a dataset in the exchange bucket (``*`` matches any)."""
    return f"inbox/{dataset}/{producer}/*"


def outbox_objects(dataset: str) -> str:
    """What the subscribers of a dataset read from the exchange bucket: its committed batches."""
    return f"outbox/{dataset}/*"


# Exchange bucket prefixes: uploads, what subscribers receive, refused batches, batch manifests.
EXCHANGE_PREFIXES = {
    "inbox": "delivery",
    "outbox": "delivery",
    "records": "delivery",
    "quarantine": "quarantine",
    "batches": "manifest",
}


# ----- the data lake's catalog -----


def glue_database(cfg: Config, zone: str) -> str:
    return f"{cfg.name.replace('-', '_')}_{zone}"


def data_lake_workgroup(cfg: Config) -> str:
    return f"{cfg.name}-dl"


def glue_security_configuration(cfg: Config) -> str:
    return f"{cfg.name}-dl"


def crawler(cfg: Config, zone: str) -> str:
    return f"{cfg.name}-dl-{zone}"


# ----- business systems -----


def system_prefix(cfg: Config, system: str) -> str:
    """``kobe-stg-resident-registry``: the start of every name of one business system."""
    return f"{cfg.name}-{system}"


def host_name(environment: str, system: str, role: str, index: int) -> str:
    """``kobe-stg``, ``resident-registry``, ``web``, 0 -> ``kobe-stg-resident-registry-web-1`` (the Name tag)."""
    return f"{environment}-{system}-{role}-{index + 1}"


def patch_group(cfg: Config, system: str, host_role_name: str) -> str:
    return f"{system_prefix(cfg, system)}-{host_role_name}"


def backup_vault(cfg: Config, system: str, region: str | None = None) -> str:
    """Deterministic vault names, so that a plan in Tokyo can name its copy destination in Osaka (the logically
    air-gapped vault there)."""
    suffix = "-airgapped" if region == cfg.regions.dr.name else ""
    return f"{system_prefix(cfg, system)}{suffix}"


def backup_vault_arn(cfg: Config, system: str, region: str) -> str:
    account = cfg.account_id(cfg.systems[system].account)
    return f"arn:aws:backup:{region}:{account}:backup-vault:{backup_vault(cfg, system, region)}"
