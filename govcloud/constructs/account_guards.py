"""Account-wide guards that CloudFormation has no resource for, plus those it has."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_accessanalyzer as accessanalyzer
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import custom_resources as cr
from constructs import Construct

from govcloud.constructs.sdk_calls import SdkCalls


class AccountGuards(Construct):
    """EBS encryption by default with the account's data key, the account-level S3 public access block (global: in
    the home region only, ``account_wide``), VPC Block Public Access in both directions and an IAM Access Analyzer,
    each of the last three for the stack's region.

    EBS default encryption and the account public access block have no CloudFormation resource; an
    ``AwsCustomResource`` makes the SDK calls at deploy time. Deleting the stack leaves both guards on.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ebs_key: kms.IKey,
        analyzer_name: str,
        log_key: kms.IKey,
        log_retention_days: int,
        account_wide: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        actions = ["ec2:EnableEbsEncryptionByDefault", "ec2:ModifyEbsDefaultKmsKeyId"]
        calls = SdkCalls(
            self,
            "GuardFunction",
            statements=[
                iam.PolicyStatement(
                    sid="AccountLevelGuards",
                    actions=[*actions, *(["s3:PutAccountPublicAccessBlock"] if account_wide else [])],
                    resources=["*"],
                )
            ],
            log_key=log_key,
            log_retention_days=log_retention_days,
            purpose="account guards",
            wildcard_reason="EnableEbsEncryptionByDefault, ModifyEbsDefaultKmsKeyId and PutAccountPublicAccessBlock "
            "are account-level calls that IAM authorizes only on Resource '*'.",
        )
        ebs_on = calls.call(
            self,
            "EbsEncryptionByDefault",
            cr.AwsSdkCall(
                service="EC2",
                action="enableEbsEncryptionByDefault",
                physical_resource_id=cr.PhysicalResourceId.of("ebs-encryption-by-default"),
            ),
        )
        ebs_key_call = calls.call(
            self,
            "EbsDefaultKey",
            cr.AwsSdkCall(
                service="EC2",
                action="modifyEbsDefaultKmsKeyId",
                parameters={"KmsKeyId": ebs_key.key_arn},
                physical_resource_id=cr.PhysicalResourceId.of("ebs-default-kms-key"),
            ),
        )
        ebs_key_call.node.add_dependency(ebs_on)
        if account_wide:
            self._s3_public_access_block(calls, stack)

        # Blocks internet-gateway traffic for the whole account and region: the closed network stays closed
        # even if someone attaches an internet gateway later.
        ec2.CfnVPCBlockPublicAccessOptions(
            self, "VpcBlockPublicAccess", internet_gateway_block_mode="block-bidirectional"
        )

        accessanalyzer.CfnAnalyzer(self, "AccessAnalyzer", type="ACCOUNT", analyzer_name=analyzer_name)

    def _s3_public_access_block(self, calls: SdkCalls, stack: cdk.Stack) -> None:
        calls.call(
            self,
            "S3AccountPublicAccessBlock",
            cr.AwsSdkCall(
                service="S3Control",
                action="putPublicAccessBlock",
                parameters={
                    "AccountId": stack.account,
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True,
                    },
                },
                physical_resource_id=cr.PhysicalResourceId.of("s3-account-public-access-block"),
            ),
        )
