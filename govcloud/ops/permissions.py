"""What the read-only operations role may do: exactly the calls ``preflight`` and ``verify`` make, all of them reads.

The baseline stack grants this list (no boto3 here, so the stacks can import it); a test checks that every action is
a read, and another that the tools call nothing outside it.
"""

from __future__ import annotations

# Verbs of IAM actions that read. DetectStackDrift and DetectStackResourceDrift start a comparison of a stack with
# its resources and change neither.
READ_VERBS = ("Describe", "Get", "List", "DetectStackDrift", "DetectStackResourceDrift")

READ_ONLY_ACTIONS = (
    "acm:DescribeCertificate",
    "backup:ListRecoveryPointsByBackupVault",
    "backup:ListRecoveryPointsByResource",
    "backup:ListRestoreJobs",
    "cloudformation:DescribeStackDriftDetectionStatus",
    "cloudformation:DescribeStackResourceDrifts",
    "cloudformation:DescribeStacks",
    "cloudformation:DetectStackDrift",
    "cloudformation:DetectStackResourceDrift",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudwatch:DescribeAlarms",
    "config:DescribeConfigurationRecorderStatus",
    "directconnect:DescribeDirectConnectGateways",
    "ec2:DescribeAddresses",
    "ec2:DescribeFlowLogs",
    "ec2:DescribeImages",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVolumes",
    "ec2:DescribeVpcBlockPublicAccessOptions",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
    "ec2:GetEbsDefaultKmsKeyId",
    "ec2:GetEbsEncryptionByDefault",
    "ec2:GetManagedPrefixListEntries",
    "guardduty:ListDetectors",
    "iam:GetRole",
    "kms:DescribeKey",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "lambda:GetAccountSettings",
    "logs:DescribeLogGroups",
    "ram:GetResourceShareInvitations",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketVersioning",
    "s3:GetEncryptionConfiguration",
    "s3:ListAllMyBuckets",
    "securityhub:DescribeHub",
    "ssm:DescribeDocument",
    "ssm:DescribeInstanceInformation",
    "ssm:ListResourceComplianceSummaries",
    "ssm:ListTagsForResource",
)
