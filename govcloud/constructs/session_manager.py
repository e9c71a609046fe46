"""Session Manager preferences of one account: the only way onto a host (there is no SSH or RDP path)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from govcloud.constructs.keys import KEY_ADMIN_ACTIONS, lock_statements
from govcloud.constructs.log_groups import encrypted_log_group

# The document Session Manager reads its preferences from; one per account and region.
PREFERENCES_DOCUMENT = "SSM-SessionManagerRunShell"
IDLE_MINUTES = 20
MAX_SESSION_MINUTES = 120


class SessionManager(Construct):
    """Sessions encrypted with a key of their own, logged to the log archive (``<prefix>/<account>/``) and to an
    encrypted log group, closed after ``IDLE_MINUTES`` without input and after ``MAX_SESSION_MINUTES`` in all.

    Operators who start a session need ``kms:GenerateDataKey`` on :attr:`key` and hosts ``kms:Decrypt``, both as
    their IAM policies allow."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key_alias: str,
        description: str,
        log_bucket_name: str,
        log_prefix: str,
        log_group_name: str,
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        account = iam.AccountRootPrincipal()
        self.key = kms.Key(
            self,
            "Key",
            alias=key_alias,
            description=f"{description}: encrypts Session Manager sessions",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            pending_window=cdk.Duration.days(30),
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="KeyAdministration", principals=[account], actions=KEY_ADMIN_ACTIONS, resources=["*"]
                    ),
                    iam.PolicyStatement(
                        sid="SessionsOfThisAccountAsIamAllows",
                        principals=[account],
                        actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                        resources=["*"],
                    ),
                    *lock_statements(cdk.Stack.of(self)),
                ]
            ),
        )
        self.log_group = encrypted_log_group(
            self, "Logs", key=logs_key, retention_days=log_retention_days, name=log_group_name
        )
        ssm.CfnDocument(
            self,
            "Preferences",
            name=PREFERENCES_DOCUMENT,
            document_type="Session",
            document_format="JSON",
            update_method="NewVersion",
            content={
                "schemaVersion": "1.0",
                "description": f"{description}: Session Manager preferences",
                "sessionType": "Standard_Stream",
                "inputs": {
                    "s3BucketName": log_bucket_name,
                    "s3KeyPrefix": f"{log_prefix}/{cdk.Stack.of(self).account}",
                    "s3EncryptionEnabled": True,
                    "cloudWatchLogGroupName": log_group_name,
                    "cloudWatchEncryptionEnabled": True,
                    "cloudWatchStreamingEnabled": True,
                    "kmsKeyId": self.key.key_id,
                    "idleSessionTimeout": str(IDLE_MINUTES),
                    "maxSessionDuration": str(MAX_SESSION_MINUTES),
                    "runAsEnabled": False,
                    "shellProfile": {"windows": "", "linux": ""},
                },
            },
        ).node.add_dependency(self.log_group)
