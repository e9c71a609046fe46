"""What a deployment of an environment needs and does not create: its external prerequisites.

The deploy simulation (``govcloud.review.deploy_check``) accepts a name that no stack creates only when it is
listed here, and the README lists the same things for the city and its vendors to provide. No CDK import.
"""

from __future__ import annotations

from dataclasses import dataclass

from govcloud.config import Config
from govcloud.naming import BOOTSTRAP_QUALIFIER

# The CDK bootstrap (default qualifier) creates these in every account and region it bootstraps.
BOOTSTRAP_ROLES = f"arn:aws:iam::*:role/cdk-{BOOTSTRAP_QUALIFIER}-*"
BOOTSTRAP_BUCKETS = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-*"

# Buckets owned by AWS that hosts download from: the SSM agent and its documents and packages, patch baselines,
# the CloudWatch agent, Amazon Linux repositories. The spokes' S3 gateway endpoints admit the same list.
AWS_OWNED_BUCKETS = (
    "aws-ssm-{r}",
    "aws-windows-downloads-{r}",
    "amazon-ssm-{r}",
    "amazon-ssm-packages-{r}",
    "{r}-birdwatcher-prod",
    "aws-ssm-distributor-file-{r}",
    "aws-ssm-document-attachments-{r}",
    "patch-baseline-snapshot-{r}",
    "amazoncloudwatch-agent-{r}",
    "al2023-repos-{r}-de612dc2",
    "amazonlinux-2-repos-{r}",
)
# Roles AWS creates for its services (service-linked roles) when a service is first used.
SERVICE_LINKED_ROLES = "arn:aws:iam::*:role/aws-service-role/*"
# Log groups AWS services create for themselves at run time.
SERVICE_LOG_GROUPS = ("arn:aws:logs:*:*:log-group:/aws-glue/*", "arn:aws:logs:*:*:log-group:/aws/*")
# Accounts AWS owns that policies admit: Elastic Load Balancing's log delivery account per region (regions older
# than 2022 deliver ALB access logs from it, not from a service principal).
ELB_LOG_ACCOUNTS = {"ap-northeast-1": "582318560864", "ap-northeast-3": "383597477331"}


@dataclass(frozen=True)
class Prerequisites:
    """Names and IDs an environment's templates may use although no stack of it creates them."""

    accounts: tuple[str, ...]
    """Accounts outside the environment that it names (a vendor's): their root principal exists."""
    role_arns: tuple[str, ...]
    """Role ARNs (``fnmatch`` patterns) that exist before the first deployment."""
    service_arns: tuple[str, ...]
    """ARN patterns of what AWS services create for themselves at run time (their log groups)."""
    bucket_names: tuple[str, ...]
    """Bucket names (patterns) owned by AWS or by the CDK bootstrap."""
    ids: tuple[str, ...]
    """IDs of things outside the stacks: AMIs, Direct Connect gateways, the S3 prefix list, vendors' endpoints."""
    what: tuple[tuple[str, str], ...]
    """Each prerequisite a person must provide, with who provides it (for the README and the preflight)."""


def of(cfg: Config) -> Prerequisites:
    net = cfg.network
    segments = list(net.segments.items())
    vendors = {name: s for name, s in cfg.linkage.systems.items() if s.spoke is None}
    amis = sorted(
        {ami for s in cfg.systems.values() for r in s.roles.values() for ami in _amis(r.ami, r.launched_from)}
    )
    roles = [
        BOOTSTRAP_ROLES,
        SERVICE_LINKED_ROLES,
        *cfg.data_lake.administrators,
        *(f"arn:aws:iam::{s.account}:role/{role}" for s in vendors.values() for role in s.caller_roles),
        f"arn:aws:iam::*:role/{cfg.break_glass.role}",
        *cfg.data_lake.analysts,
        *cfg.data_lake.stewards,
        *cfg.operations.principals,
    ]
    regions = (cfg.regions.primary.name, cfg.regions.dr.name)
    buckets = [BOOTSTRAP_BUCKETS, *(b.format(r=r) for r in regions for b in AWS_OWNED_BUCKETS)]
    ids = [
        net.s3_prefix_list_id,
        *(seg.direct_connect_gateway_id for seg in net.segments.values()),
        *(s.api_endpoint_id for s in vendors.values() if s.api_endpoint_id),
        *amis,
    ]
    vendor_roles = [
        (f"role arn:aws:iam::{s.account}:role/{role}", f"vendor of {name}")
        for name, s in vendors.items()
        for role in s.caller_roles
    ]
    what = [
        ("every account bootstrapped in Tokyo and Osaka, trusting the deploying account", "infra team"),
        (
            f"break-glass role {cfg.break_glass.role} in every account, assumed only with MFA",
            "Government Cloud administrators",
        ),
        *(
            (f"people's role {arn}", "city (single sign-on)")
            for arn in (*cfg.data_lake.analysts, *cfg.data_lake.stewards)
        ),
        *(
            (f"operations role {arn} (the infra team's)", "infra team (single sign-on)")
            for arn in cfg.operations.principals
        ),
        *((f"Direct Connect gateway {seg.direct_connect_gateway_id} ({name})", "city") for name, seg in segments),
        *((f"AMI {ami}", "infra team") for ami in amis),
        *((f"Lake Formation administrator {arn}", "infra team") for arn in cfg.data_lake.administrators),
        *vendor_roles,
        *((f"execute-api endpoint {s.api_endpoint_id}", f"vendor of {name}") for name, s in vendors.items()),
        *((f"ACM certificate {s.certificate_arn}", "infra team") for s in cfg.systems.values() if s.certificate_arn),
        *(
            (f"ACM certificate {s.certificate_arn} (Osaka)", "infra team")
            for s in cfg.disaster_recovery.systems.values()
            if s.certificate_arn and cfg.disaster_recovery.mode == "pilot-light"
        ),
    ]
    return Prerequisites(
        accounts=tuple(
            sorted(
                {*(s.account for s in vendors.values()), *ELB_LOG_ACCOUNTS.values(), cfg.operations.deploying_account}
            )
        ),
        role_arns=tuple(roles),
        service_arns=SERVICE_LOG_GROUPS,
        bucket_names=tuple(buckets),
        ids=tuple(ids),
        what=tuple(what),
    )


def _amis(*values: object) -> list[str]:
    return [ami for v in values if isinstance(v, dict) for ami in v.values()]
