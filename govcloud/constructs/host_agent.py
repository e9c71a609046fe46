"""What runs on every business-system host besides the application: the CloudWatch agent, configured per
operating system family, and the metrics the alarms and the instance role depend on; Patch Manager's names."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from govcloud.config import OperatingSystem, pascal
from govcloud.constructs.log_groups import encrypted_log_group
from govcloud.naming import OS_TAG

AGENT_NAMESPACE = "CWAgent"


@dataclass(frozen=True)
class AgentMetric:
    """A metric the agent publishes per instance (aggregated over disks), and when it is bad."""

    name: str
    statistic: str
    comparison: str
    threshold: float
    title: str


@dataclass(frozen=True)
class OsFamily:
    name: str
    """``windows`` or ``linux``."""
    root_device: str
    memory: AgentMetric
    disk: AgentMetric
    log_group_suffix: str

    def agent_config(self, log_group_name: str) -> str:
        """The CloudWatch agent's JSON configuration: memory and disk per instance, and the system logs."""
        metrics = {
            "namespace": AGENT_NAMESPACE,
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            # One series per instance besides the per-disk ones: the alarms watch the worst disk.
            "aggregation_dimensions": [["InstanceId"]],
        }
        if self.name == "windows":
            metrics["metrics_collected"] = {
                "Memory": {"measurement": ["% Committed Bytes In Use"], "metrics_collection_interval": 60},
                "LogicalDisk": {"measurement": ["% Free Space"], "resources": ["*"], "metrics_collection_interval": 60},
            }
            logs = {
                "windows_events": {
                    "collect_list": [
                        {
                            "event_name": name,
                            "event_levels": levels,
                            "log_group_name": log_group_name,
                            "log_stream_name": "{instance_id}/" + name,
                        }
                        for name, levels in (
                            ("System", ["CRITICAL", "ERROR", "WARNING"]),
                            ("Application", ["CRITICAL", "ERROR", "WARNING"]),
                            ("Security", ["INFORMATION", "ERROR"]),
                        )
                    ]
                }
            }
        else:
            metrics["metrics_collected"] = {
                "mem": {"measurement": ["mem_used_percent"], "metrics_collection_interval": 60},
                "disk": {
                    "measurement": ["used_percent"],
                    "resources": ["*"],
                    "drop_device": True,
                    "ignore_file_system_types": ["devtmpfs", "tmpfs", "overlay", "squashfs"],
                    "metrics_collection_interval": 60,
                },
            }
            logs = {
                "files": {
                    "collect_list": [
                        {
                            "file_path": path,
                            "log_group_name": log_group_name,
                            "log_stream_name": "{instance_id}" + path,
                        }
                        for path in ("/var/log/messages", "/var/log/secure")
                    ]
                }
            }
        return json.dumps({"metrics": metrics, "logs": {"logs_collected": logs}}, indent=2, sort_keys=True)


WINDOWS = OsFamily(
    name="windows",
    root_device="/dev/sda1",
    memory=AgentMetric("Memory % Committed Bytes In Use", "Maximum", "GreaterThanThreshold", 90, "memory in use"),
    disk=AgentMetric("LogicalDisk % Free Space", "Minimum", "LessThanThreshold", 15, "free disk space (%)"),
    log_group_suffix="windows-events",
)
LINUX = OsFamily(
    name="linux",
    root_device="/dev/sda1",
    memory=AgentMetric("mem_used_percent", "Maximum", "GreaterThanThreshold", 90, "memory in use"),
    disk=AgentMetric("disk_used_percent", "Maximum", "GreaterThanThreshold", 85, "disk in use (%)"),
    log_group_suffix="syslog",
)
AMAZON_LINUX = dataclasses.replace(LINUX, root_device="/dev/xvda")

FAMILY: dict[OperatingSystem, OsFamily] = {
    "windows-server-2022-ja": WINDOWS,
    "rhel-9": LINUX,
    "amazon-linux-2023": AMAZON_LINUX,
}

# Patch Manager's name for each operating system, and what a baseline approves.
PATCH_OPERATING_SYSTEM: dict[OperatingSystem, str] = {
    "windows-server-2022-ja": "WINDOWS",
    "rhel-9": "REDHAT_ENTERPRISE_LINUX",
    "amazon-linux-2023": "AMAZON_LINUX_2023",
}
PATCH_FILTERS: dict[OperatingSystem, dict[str, list[str]]] = {
    "windows-server-2022-ja": {
        "PRODUCT": ["WindowsServer2022"],
        "CLASSIFICATION": ["CriticalUpdates", "SecurityUpdates"],
        "MSRC_SEVERITY": ["Critical", "Important"],
    },
    "rhel-9": {"CLASSIFICATION": ["Security", "Bugfix"], "SEVERITY": ["Critical", "Important"]},
    "amazon-linux-2023": {"CLASSIFICATION": ["Security", "Bugfix"], "SEVERITY": ["Critical", "Important"]},
}
# Products a RHEL alternative patch source applies to (Patch Manager's names).
RHEL_9_PRODUCTS = [f"RedhatEnterpriseLinux9.{minor}" for minor in range(7)]


def wsus_script(url: str) -> list[str]:
    """PowerShell that points Windows Update at the city's WSUS and leaves installs to Patch Manager."""
    base = r"HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate"
    return [
        "$ErrorActionPreference = 'Stop'",
        f"New-Item -Path '{base}\\AU' -Force | Out-Null",
        f"Set-ItemProperty -Path '{base}' -Name WUServer -Value '{url}'",
        f"Set-ItemProperty -Path '{base}' -Name WUStatusServer -Value '{url}'",
        f"Set-ItemProperty -Path '{base}\\AU' -Name UseWUServer -Value 1 -Type DWord",
        f"Set-ItemProperty -Path '{base}\\AU' -Name NoAutoUpdate -Value 1 -Type DWord",
        "Restart-Service -Name wuauserv",
    ]


def rhel_repositories(url: str) -> str:
    """yum repository definitions of the city's RHEL mirror, used by Patch Manager instead of the host's own."""
    sections = []
    for repo in ("BaseOS", "AppStream"):
        sections.append(
            "\n".join(
                (
                    f"[city-rhel9-{repo.lower()}]",
                    f"name=RHEL 9 {repo} (city mirror)",
                    f"baseurl={url.rstrip('/')}/{repo}",
                    "enabled=1",
                    "gpgcheck=1",
                    "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release",
                    "sslverify=1",
                )
            )
        )
    return "\n\n".join(sections) + "\n"


# Amazon Linux 2023 logs to the journal only; rsyslog (from its repositories, served from S3) writes the
# /var/log/messages and /var/log/secure that the agent collects, as RHEL does out of the box.
SYSLOG_SETUP: dict[OperatingSystem, list[str]] = {
    "amazon-linux-2023": ["dnf install -y rsyslog", "systemctl enable --now rsyslog"],
}


def ssm_agent_install(region: str) -> str:
    """User data that installs the SSM agent, which Red Hat's images do not ship, from AWS's regional bucket through
    the spoke's S3 gateway endpoint (there is no internet path). Without it the host never registers with Systems
    Manager: no Session Manager, State Manager, Patch Manager or CloudWatch agent. x86_64 images."""
    url = f"https://s3.{region}.amazonaws.com/amazon-ssm-{region}/latest/linux_amd64/amazon-ssm-agent.rpm"
    return "\n".join(
        (
            "#!/bin/bash",
            "# Installs the SSM agent (not in Red Hat's images) from AWS's bucket through the S3 gateway endpoint.",
            "set -eu",
            "if ! systemctl is-active --quiet amazon-ssm-agent; then",
            f"  curl -fsS --retry 5 -o /tmp/amazon-ssm-agent.rpm {url}",
            "  rpm -U --replacepkgs /tmp/amazon-ssm-agent.rpm",
            "  systemctl enable --now amazon-ssm-agent",
            "fi",
            "",
        )
    )


# Operating systems whose images lack the SSM agent: user data installs it at first boot (and after a root-volume
# replacement, which boots a fresh image).
NEEDS_SSM_AGENT: frozenset[OperatingSystem] = frozenset(("rhel-9",))


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
        operating_systems: Iterable[OperatingSystem],
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        targets = [ssm.CfnAssociation.TargetProperty(key="tag:System", values=[system])]
        for os_name in sorted(set(operating_systems) & set(SYSLOG_SETUP)):
            ssm.CfnAssociation(
                self,
                f"Syslog{pascal(os_name)}",
                association_name=f"{name_prefix}-syslog-{os_name}",
                name="AWS-RunShellScript",
                parameters={"commands": SYSLOG_SETUP[os_name]},
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
                targets=[*targets, ssm.CfnAssociation.TargetProperty(key="tag:AgentConfig", values=[suffix])],
                schedule_expression="rate(14 days)",
            )
            configure.add_resource_dependency(install)
            configure.add_resource_dependency(parameter)
            configure.node.add_dependency(log_group)
