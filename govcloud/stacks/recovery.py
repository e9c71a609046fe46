"""What a business system's restored hosts join in Osaka's pilot light: the role security groups, with Tokyo's rules
on Osaka's addresses. The hosts themselves come from restore jobs (``python -m govcloud.ops recover``): their Osaka
recovery points sit in a logically air-gapped vault, from which only AWS Backup can restore."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from govcloud import naming
from govcloud.config import Config
from govcloud.stacks.base import GovCloudStack
from govcloud.stacks.business_system import host_security_groups


class RecoveryStack(GovCloudStack):
    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: Config, system: str, vpc: ec2.IVpc, region: str
    ) -> None:
        conf = cfg.systems[system]
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=conf.account,
            region=region,
            summary=f"pilot light of '{system}' ({conf.name_ja}) in Osaka: the security groups restored hosts join",
            system=system,
            classification="restricted",
        )
        for role, group in host_security_groups(self, cfg, system, vpc).items():
            cdk.CfnOutput(self, naming.recovery_group_output(role), value=group.security_group_id)
