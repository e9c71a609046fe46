"""Data volumes made usable on their hosts: a State Manager document that formats a data volume only when it has
no file system yet (it never reformats one), and mounts it: ``/data`` on Linux, drive ``D:`` on Windows."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ssm as ssm
from constructs import Construct

MOUNT_POINT = "/data"
DRIVE_LETTER = "D"

# The EBS volume's NVMe serial number is its ID without the dash, on Linux and Windows alike (Nitro instances).
LINUX = [
    "set -eu",
    'volume="{{ VolumeId }}"',
    'serial=$(echo "$volume" | tr -d -)',
    'device=""',
    'for candidate in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial" /dev/sdf /dev/xvdf; do',
    '  if [ -b "$candidate" ]; then device=$(readlink -f "$candidate"); break; fi',
    "done",
    'if [ -z "$device" ]; then echo "data volume $volume is not attached yet"; exit 1; fi',
    "# A volume with a file system keeps it: only a blank volume is formatted.",
    'if ! blkid "$device" >/dev/null 2>&1; then mkfs -t xfs -L data "$device"; fi',
    'uuid=$(blkid -s UUID -o value "$device" || true)',
    'if [ -z "$uuid" ]; then echo "data volume $volume holds partitions or an unknown layout: left alone"; exit 1; fi',
    f"mkdir -p {MOUNT_POINT}",
    f'grep -q "UUID=$uuid" /etc/fstab || echo "UUID=$uuid {MOUNT_POINT} xfs defaults,nofail 0 2" >> /etc/fstab',
    f"mountpoint -q {MOUNT_POINT} || mount {MOUNT_POINT}",
]
WINDOWS = [
    "$ErrorActionPreference = 'Stop'",
    "$serial = '{{ VolumeId }}'.Replace('-', '')",
    '$disk = Get-Disk | Where-Object { $_.SerialNumber -like "$serial*" }',
    "if (-not $disk) { throw 'data volume {{ VolumeId }} is not attached yet' }",
    "if ($disk.IsOffline) { Set-Disk -Number $disk.Number -IsOffline $false }",
    "if ($disk.IsReadOnly) { Set-Disk -Number $disk.Number -IsReadOnly $false }",
    "# A disk with partitions keeps them: only a blank (RAW) disk is initialized and formatted.",
    "if ($disk.PartitionStyle -eq 'RAW') {",
    "  Initialize-Disk -Number $disk.Number -PartitionStyle GPT",
    f"  New-Partition -DiskNumber $disk.Number -UseMaximumSize -DriveLetter {DRIVE_LETTER} |",
    "    Format-Volume -FileSystem NTFS -NewFileSystemLabel data -Confirm:$false | Out-Null",
    f"}} elseif (-not (Get-Partition -DiskNumber $disk.Number | Where-Object DriveLetter -eq '{DRIVE_LETTER}')) {{",
    "  $partition = Get-Partition -DiskNumber $disk.Number | Where-Object Type -eq 'Basic' | Select-Object -First 1",
    "  if ($partition) {",
    "    Set-Partition -DiskNumber $disk.Number -PartitionNumber $partition.PartitionNumber `",
    f"      -NewDriveLetter {DRIVE_LETTER}",
    "  }",
    "}",
]


def document_content() -> dict[str, object]:
    return {
        "schemaVersion": "2.2",
        "description": "Formats a data volume only when it has no file system, and mounts it (/data or D:)",
        "parameters": {"VolumeId": {"type": "String", "allowedPattern": "^vol-[0-9a-f]{8,17}$"}},
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "Linux",
                "precondition": {"StringEquals": ["platformType", "Linux"]},
                "inputs": {"runCommand": LINUX, "timeoutSeconds": "600"},
            },
            {
                "action": "aws:runPowerShellScript",
                "name": "Windows",
                "precondition": {"StringEquals": ["platformType", "Windows"]},
                "inputs": {"runCommand": WINDOWS, "timeoutSeconds": "600"},
            },
        ],
    }


class DataVolumes(Construct):
    """The document, and :meth:`mount` adds one association per host with a data volume."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.document = ssm.CfnDocument(
            self,
            "Document",
            name=name,
            document_type="Command",
            document_format="JSON",
            content=document_content(),
            update_method="NewVersion",
        )

    def mount(
        self,
        scope: Construct,
        construct_id: str,
        *,
        host_name: str,
        instance_id: str,
        volume_id: str,
        attachment: cdk.CfnResource,
    ) -> None:
        association = ssm.CfnAssociation(
            scope,
            construct_id,
            association_name=f"{host_name}-data-volume",
            name=self.name,
            targets=[ssm.CfnAssociation.TargetProperty(key="InstanceIds", values=[instance_id])],
            parameters={"VolumeId": [volume_id]},
            # Re-applied daily (a no-op when mounted); update-image runs it at once after a new root volume.
            schedule_expression="rate(1 day)",
        )
        association.add_resource_dependency(self.document)
        association.add_resource_dependency(attachment)
