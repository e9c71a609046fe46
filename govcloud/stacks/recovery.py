"""What a business system's restored hosts join in Osaka's pilot light: the role security groups, with Tokyo's rules
on Osaka's addresses, and the internal load balancer with Osaka's certificate and a target group that the restored
web hosts join. The hosts themselves come from restore jobs (``python -m govcloud.ops recover``): their Osaka
recovery points sit in a logically air-gapped vault, from which only AWS Backup can restore, so no template can
name them; ``recover`` registers them with the target group."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from govcloud import naming
from govcloud.config import Config
from govcloud.stacks.base import GovCloudStack
from govcloud.stacks.business_system import host_security_groups, internal_load_balancer


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
            summary=f"pilot light of '{system}' ({conf.name_ja}) in Osaka: the security groups and load balancer "
            "restored hosts join",
            system=system,
            classification="restricted",
        )
        groups = host_security_groups(self, cfg, system, vpc)
        for role, group in groups.items():
            cdk.CfnOutput(self, naming.recovery_group_output(role), value=group.security_group_id)
        if conf.balanced_role is not None:
            certificate = cfg.disaster_recovery.systems[system].certificate_arn
            assert certificate is not None  # disaster_recovery_checks require it
            targets = internal_load_balancer(
                self, vpc, groups["load-balancer"], conf, certificate_arn=certificate, instance_ids=None
            )
            output = naming.recovery_target_group_output(conf.balanced_role)
            cdk.CfnOutput(self, output, value=targets.target_group_arn)
