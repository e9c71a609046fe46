"""Customer-managed KMS keys whose policies admit only the services that use them."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from govcloud.config import CLASSIFICATION_OF

# Actions that administer a key; they never touch data. Not kms:CreateGrant: a grant gives the use of a key, so it
# is allowed only where a key's users may use it, and only for AWS resources (kms:GrantIsForAWSResource).
KEY_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
]
KEY_USE_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"]

# AWS services (the part before ".<region>.amazonaws.com") through which principals of the account may use
# the key of each data class. A principal can use the key only through these services, never directly.
SERVICES_OF: dict[str, tuple[str, ...]] = {
    "logs": ("logs", "sns"),
    "resident-data": ("ec2", "backup", "ssm"),
    "data-lake": ("s3", "glue", "athena"),
    "linkage": ("s3", "sqs", "sns", "lambda"),
}


class DataKey(Construct):
    """A customer-managed key for one data class, with yearly rotation, retained on delete.

    The key policy lets the account administer the key, lets the account's principals use it only through
    the services of its data class (``kms:ViaService``; ``via_services`` replaces that list), and admits the
    service principals passed in ``service_statements``. Grants that need more add statements to :attr:`key`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias: str,
        data_class: str,
        description: str,
        via_services: Sequence[str] | None = None,
        service_statements: Sequence[iam.PolicyStatement] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        account = iam.AccountRootPrincipal()
        services = sorted(set(SERVICES_OF[data_class] if via_services is None else via_services))
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="KeyAdministration", principals=[account], actions=KEY_ADMIN_ACTIONS, resources=["*"]
                ),
                iam.PolicyStatement(
                    sid="UseThroughServicesOfThisDataClass",
                    principals=[account],
                    actions=KEY_USE_ACTIONS,
                    resources=["*"],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": [f"{svc}.{stack.region}.amazonaws.com" for svc in services],
                        }
                    },
                ),
                iam.PolicyStatement(
                    sid="GrantsOnlyForAwsResources",
                    principals=[account],
                    actions=["kms:CreateGrant"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": [f"{svc}.{stack.region}.amazonaws.com" for svc in services],
                        },
                        "Bool": {"kms:GrantIsForAWSResource": "true"},
                    },
                ),
                *service_statements,
            ]
        )
        self.key = kms.Key(
            self,
            "Resource",
            alias=alias,
            description=description,
            enable_key_rotation=True,
            rotation_period=cdk.Duration.days(365),
            policy=policy,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            pending_window=cdk.Duration.days(30),
        )
        cdk.Tags.of(self).add("DataClassification", CLASSIFICATION_OF[data_class])


def key_by_alias_statement(
    sid: str, actions: Sequence[str], *, account: str, region: str, alias: str, via: str
) -> iam.PolicyStatement:
    """An identity-policy statement for a key of another stack or account, which cannot be referenced: any key of
    ``account`` in ``region`` that carries ``alias``, used only through the service ``via`` (``s3``, ``sqs``)."""
    return iam.PolicyStatement(
        sid=sid,
        actions=list(actions),
        resources=[f"arn:aws:kms:{region}:{account}:key/*"],
        conditions={
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": alias},
            "StringEquals": {"kms:ViaService": f"{via}.{region}.amazonaws.com"},
        },
    )


def service_statement(
    sid: str,
    service: str,
    actions: Sequence[str],
    conditions: dict[str, dict[str, object]] | None = None,
) -> iam.PolicyStatement:
    """A key-policy statement for an AWS service principal."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.ServicePrincipal(service)],
        actions=list(actions),
        resources=["*"],
        conditions=conditions,
    )
