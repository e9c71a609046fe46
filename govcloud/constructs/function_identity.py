"""What every Lambda function of ours runs as: its own encrypted log group, role and customer-managed policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from govcloud.compliance.packs import acknowledge
from govcloud.constructs.log_groups import encrypted_log_group

LOG_STREAMS_REASON = "Lambda names its log streams at run time; the policy is limited to this function's own log group."


@dataclass(frozen=True)
class FunctionIdentity:
    log_group: logs.LogGroup
    role: iam.Role
    policy: iam.ManagedPolicy
    statements: tuple[iam.PolicyStatement, ...]
    """The policy's statements, ``WriteOwnLogs`` included."""


def function_identity(
    scope: Construct,
    prefix: str,
    *,
    statements: Sequence[iam.PolicyStatement],
    log_key: kms.IKey,
    log_retention_days: int,
    log_group_name: str | None = None,
    role_name: str | None = None,
) -> FunctionIdentity:
    """Create ``<prefix>Logs``, ``<prefix>Role`` and ``<prefix>Policy`` directly in ``scope`` (the logical IDs the
    functions had before this helper). The policy is ``statements`` plus ``WriteOwnLogs`` on the log group alone;
    the log-stream wildcard that needs is acknowledged here. With ``log_group_name`` the group's name is fixed and
    the policy names it literally, otherwise through the group's ARN."""
    log_group = encrypted_log_group(
        scope, f"{prefix}Logs", key=log_key, retention_days=log_retention_days, name=log_group_name
    )
    role = iam.Role(
        scope, f"{prefix}Role", role_name=role_name, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    if log_group_name:
        stack = cdk.Stack.of(scope)
        log_resources = [f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{log_group_name}:*"]
    else:
        log_resources = [log_group.log_group_arn, f"{log_group.log_group_arn}:log-stream:*"]
    all_statements = (
        *statements,
        iam.PolicyStatement(
            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=log_resources
        ),
    )
    policy = iam.ManagedPolicy(scope, f"{prefix}Policy", roles=[role], statements=list(all_statements))
    if log_group_name:
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::{log_resources[0]}]", LOG_STREAMS_REASON)
    else:
        log_group_id = cdk.Stack.of(scope).get_logical_id(log_group.node.default_child)  # type: ignore[arg-type]
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{log_group_id}.Arn>:log-stream:*]", LOG_STREAMS_REASON)
    return FunctionIdentity(log_group=log_group, role=role, policy=policy, statements=all_statements)
