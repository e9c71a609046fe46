"""Account-wide guards that CloudFormation has no resource for, plus those it has."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_accessanalyzer as accessanalyzer
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import custom_resources as cr
from constructs import Construct

from govcloud.compliance.packs import acknowledge
from govcloud.constructs.log_groups import encrypted_log_group

# Construct id of the Lambda function that every AwsCustomResource of a stack shares.
AWS_CUSTOM_RESOURCE_SINGLETON = "AWS679f53fac002430cb0da5b7982bd2287"


class AccountGuards(Construct):
    """EBS encryption by default with the account's data key, the account-level S3 public access block,
    VPC Block Public Access in both directions and an IAM Access Analyzer for the account.

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
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)

        log_group = encrypted_log_group(self, "GuardFunctionLogs", key=log_key, retention_days=log_retention_days)

        # One role for the function that all the stack's AwsCustomResources share, with a customer-managed
        # policy instead of CDK's inline one and instead of the AWS managed basic-execution policy.
        self.role = iam.Role(self, "GuardFunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.policy = iam.ManagedPolicy(
            self,
            "GuardFunctionPolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="AccountLevelGuards",
                    actions=[
                        "ec2:EnableEbsEncryptionByDefault",
                        "ec2:ModifyEbsDefaultKmsKeyId",
                        "s3:PutAccountPublicAccessBlock",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn, f"{log_group.log_group_arn}:log-stream:*"],
                ),
            ],
        )

        def sdk_guard(construct_id: str, call: cr.AwsSdkCall) -> cr.AwsCustomResource:
            resource = cr.AwsCustomResource(
                self,
                construct_id,
                on_create=call,
                on_update=call,
                install_latest_aws_sdk=False,
                log_group=log_group,
                role=self.role,
            )
            resource.node.add_dependency(self.policy)
            return resource

        ebs_on = sdk_guard(
            "EbsEncryptionByDefault",
            cr.AwsSdkCall(
                service="EC2",
                action="enableEbsEncryptionByDefault",
                physical_resource_id=cr.PhysicalResourceId.of("ebs-encryption-by-default"),
            ),
        )
        ebs_key_call = sdk_guard(
            "EbsDefaultKey",
            cr.AwsSdkCall(
                service="EC2",
                action="modifyEbsDefaultKmsKeyId",
                parameters={"KmsKeyId": ebs_key.key_arn},
                physical_resource_id=cr.PhysicalResourceId.of("ebs-default-kms-key"),
            ),
        )
        ebs_key_call.node.add_dependency(ebs_on)
        sdk_guard(
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

        # Blocks internet-gateway traffic for the whole account and region: the closed network stays closed
        # even if someone attaches an internet gateway later.
        ec2.CfnVPCBlockPublicAccessOptions(
            self, "VpcBlockPublicAccess", internet_gateway_block_mode="block-bidirectional"
        )

        accessanalyzer.CfnAnalyzer(self, "AccessAnalyzer", type="ACCOUNT", analyzer_name=analyzer_name)

        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "EnableEbsEncryptionByDefault, ModifyEbsDefaultKmsKeyId and PutAccountPublicAccessBlock are "
            "account-level calls that IAM authorizes only on Resource '*'.",
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(_cfn(log_group))}.Arn>:log-stream:*]",
            "Lambda names its log streams at run time; the policy is limited to this function's own log group.",
        )
        function = stack.node.find_child(AWS_CUSTOM_RESOURCE_SINGLETON)
        acknowledge(
            function,
            "AwsSolutions-L1",
            "The runtime of CDK's AwsCustomResource singleton is chosen by aws-cdk-lib and moves with its upgrades.",
        )
        for rule, why in (
            ("LambdaInsideVPC", "it runs once at deploy time and calls only EC2 and S3 Control account APIs"),
            ("LambdaConcurrency", "it runs only during deployments of this stack, one call at a time"),
            ("LambdaDLQ", "CloudFormation invokes it synchronously and reports a failure as a failed deployment"),
        ):
            acknowledge(
                function, f"NIST.800.53.R5-{rule}", f"CDK's AwsCustomResource function for account guards: {why}."
            )


def _cfn(construct: Construct) -> cdk.CfnElement:
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return child
