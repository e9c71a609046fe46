"""What runs on every business-system host besides the application: the CloudWatch agent, configured per
operating system family (``govcloud/os_profiles.py``), and the syslog setup of images that need one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from govcloud.config import pascal
from govcloud.constructs.log_groups import encrypted_log_group
from govcloud.naming import AGENT_CONFIG_TAG, OS_TAG, SYSTEM_TAG
from govcloud.os_profiles import PROFILES, OsFamily


def agent_parameter_name(prefix: str, family: OsFamily) -> str:
    """``AmazonCloudWatch-`` is the prefix the CloudWatch agent's documentation and tooling expect."""
    return f"AmazonCloudWatch-{prefix}-{family.log_group_suffix}"


class CloudWatchAgent(Construct):
    """The agent's configuration per OS family as an SSM parameter, an encrypted log group per family, and State
    Manager associations that install the agent on every host tagged ``System=<system>`` and apply the
    configuration of its family (hosts carry ``AgentConfig=<family log suffix>``). Hosts of an operating system
    without the log files the agent reads (``OperatingSystem=amazon-linux-2023``) get rsyslog first."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        system: str,
        name_prefix: str,
        log_group_prefix: str,
        families: Mapping[str, OsFamily],
        operating_systems: Iterable[str],
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        targets = [ssm.CfnAssociation.TargetProperty(key=f"tag:{SYSTEM_TAG}", values=[system])]
        for os_name in sorted(os for os in set(operating_systems) if PROFILES[os].syslog_setup):
            ssm.CfnAssociation(
                self,
                f"Syslog{pascal(os_name)}",
                association_name=f"{name_prefix}-syslog-{os_name}",
                name="AWS-RunShellScript",
                parameters={"commands": list(PROFILES[os_name].syslog_setup)},
                targets=[*targets, ssm.CfnAssociation.TargetProperty(key=f"tag:{OS_TAG}", values=[os_name])],
                schedule_expression="rate(14 days)",
            )
        install = ssm.CfnAssociation(
            self,
            "Install",
            association_name=f"{name_prefix}-agent-install",
            name="AWS-ConfigureAWSPackage",
            parameters={"action": ["Install"], "name": ["AmazonCloudWatchAgent"]},
            targets=targets,
            schedule_expression="rate(14 days)",
        )
        self.parameter_names: list[str] = []
        for suffix, family in sorted(families.items()):
            log_group_name = f"{log_group_prefix}/{suffix}"
            log_group = encrypted_log_group(
                self, f"{pascal(suffix)}Logs", key=logs_key, retention_days=log_retention_days, name=log_group_name
            )
            parameter_name = agent_parameter_name(name_prefix, family)
            self.parameter_names.append(parameter_name)
            parameter = ssm.CfnParameter(
                self,
                f"{pascal(suffix)}Config",
                name=parameter_name,
                type="String",
                tier="Standard",
                value=family.agent_config(log_group_name),  # literal: the agent reads it as plain JSON
                description=f"CloudWatch agent configuration of {system} {family.name} hosts",
            )
            configure = ssm.CfnAssociation(
                self,
                f"{pascal(suffix)}Configure",
                association_name=f"{name_prefix}-agent-{suffix}",
                name="AmazonCloudWatch-ManageAgent",
                parameters={
                    "action": ["configure"],
                    "mode": ["ec2"],
                    "optionalConfigurationSource": ["ssm"],
                    "optionalConfigurationLocation": [parameter_name],
                    "optionalRestart": ["yes"],
                },
                targets=[*targets, ssm.CfnAssociation.TargetProperty(key=f"tag:{AGENT_CONFIG_TAG}", values=[suffix])],
                schedule_expression="rate(14 days)",
            )
            configure.add_resource_dependency(install)
            configure.add_resource_dependency(parameter)
            configure.node.add_dependency(log_group)
