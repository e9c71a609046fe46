"""Customer-managed KMS keys whose policies admit only the services that use them."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from govcloud import naming
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
# What would make a key's data unreadable, for good or until someone notices: nobody but the break-glass role, with
# MFA, may do these; and its policy only that role (with MFA) or CloudFormation's deployment role may replace.
KEY_LOCKED_ACTIONS = [
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:DeleteImportedKeyMaterial",
]


def lock_statements(stack: cdk.Stack) -> list[iam.PolicyStatement]:
    """Denies in a key policy that an administrator of the account cannot work around through IAM: deletion,
    disabling and a new policy only by the configured break-glass role with MFA (and a new policy also by the CDK
    bootstrap's CloudFormation execution role, which only CloudFormation can assume, so a policy changes only as a
    reviewed template says). KMS evaluates these before any IAM permission."""
    cfg = getattr(stack, "cfg", None)
    if cfg is None:
        raise TypeError(f"{stack.node.path}: a key's locks need the environment's config (a GovCloudStack)")
    break_glass = naming.role_arn(stack.account, cfg.break_glass.role)
    deployer = naming.role_arn(
        stack.account, f"cdk-{naming.BOOTSTRAP_QUALIFIER}-cfn-exec-role-{stack.account}-{stack.region}"
    )
    anyone = [iam.AnyPrincipal()]
    no_mfa = {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    return [
        iam.PolicyStatement(
            sid="OnlyBreakGlassDeletesOrDisables",
            effect=iam.Effect.DENY,
            principals=anyone,
            actions=KEY_LOCKED_ACTIONS,
            resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": break_glass}},
        ),
        iam.PolicyStatement(
            sid="BreakGlassNeedsMfa",
            effect=iam.Effect.DENY,
            principals=anyone,
            actions=[*KEY_LOCKED_ACTIONS, "kms:PutKeyPolicy"],
            resources=["*"],
            conditions={"ArnEquals": {"aws:PrincipalArn": break_glass}, **no_mfa},
        ),
        iam.PolicyStatement(
            sid="PolicyOnlyByBreakGlassOrCloudFormation",
            effect=iam.Effect.DENY,
            principals=anyone,
            actions=["kms:PutKeyPolicy"],
            resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": [break_glass, deployer]}},
        ),
    ]


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
                *lock_statements(stack),
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
