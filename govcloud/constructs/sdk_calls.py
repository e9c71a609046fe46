"""Deploy-time AWS SDK calls (``AwsCustomResource``) with a role and log group of our own.

CDK's default gives the shared function an inline policy and the AWS managed basic-execution policy, which the
NIST pack rejects; here the function gets a customer-managed policy with exactly the calls of its stack, and a
KMS-encrypted log group with the configured retention.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import custom_resources as cr
from constructs import Construct

from govcloud.compliance.packs import acknowledge
from govcloud.constructs.function_identity import function_identity

# Construct id of the Lambda function that every AwsCustomResource of a stack shares.
AWS_CUSTOM_RESOURCE_SINGLETON = "AWS679f53fac002430cb0da5b7982bd2287"


class SdkCalls:
    """The role, policy and log group for the ``AwsCustomResource`` calls of one stack; create calls with
    :meth:`call`. ``wildcard_reason`` explains statements that IAM authorizes only on Resource ``*``.

    Its log group, role and policy are created directly in ``scope`` by :func:`function_identity`."""

    def __init__(
        self,
        scope: Construct,
        prefix: str,
        *,
        statements: Sequence[iam.PolicyStatement],
        log_key: kms.IKey,
        log_retention_days: int,
        purpose: str,
        wildcard_reason: str | None = None,
    ) -> None:
        self._scope = scope
        identity = function_identity(
            scope, prefix, statements=statements, log_key=log_key, log_retention_days=log_retention_days
        )
        self.log_group, self.role, self.policy = identity.log_group, identity.role, identity.policy
        if wildcard_reason:
            acknowledge(self.policy, "AwsSolutions-IAM5[Resource::*]", wildcard_reason)
        self._purpose = purpose
        self._acknowledged_function = False

    def call(
        self, scope: Construct, construct_id: str, call: cr.AwsSdkCall, *, on_delete: cr.AwsSdkCall | None = None
    ) -> cr.AwsCustomResource:
        resource = cr.AwsCustomResource(
            scope,
            construct_id,
            on_create=call,
            on_update=call,
            on_delete=on_delete,
            install_latest_aws_sdk=False,
            log_group=self.log_group,
            role=self.role,
        )
        resource.node.add_dependency(self.policy)
        if not self._acknowledged_function:
            self._acknowledge_function()
        return resource

    def _acknowledge_function(self) -> None:
        function = cdk.Stack.of(self._scope).node.find_child(AWS_CUSTOM_RESOURCE_SINGLETON)
        acknowledge(
            function,
            "AwsSolutions-L1",
            "The runtime of CDK's AwsCustomResource singleton is chosen by aws-cdk-lib and moves with its upgrades.",
        )
        for rule, why in (
            ("LambdaInsideVPC", "it runs only at deploy time and calls AWS account and control-plane APIs"),
            ("LambdaConcurrency", "it runs only during deployments of this stack, one call at a time"),
            ("LambdaDLQ", "CloudFormation waits for its answer and reports a failure as a failed deployment"),
        ):
            acknowledge(
                function, f"NIST.800.53.R5-{rule}", f"CDK's AwsCustomResource function for {self._purpose}: {why}."
            )
        self._acknowledged_function = True
