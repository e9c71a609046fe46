"""The stack class every stack of the landing zone derives from."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_s3 as s3
from constructs import Construct, IValidation

from govcloud import naming
from govcloud.config import MANAGED_BY, Config, DataClassification
from govcloud.constructs.buckets import AccessLogBucket


class GovCloudStack(cdk.Stack):
    """A stack pinned to one account (``account``, its name in ``[accounts]``) and region (the primary one unless
    ``region`` says otherwise).

    It answers availability-zone questions from config, so synth never asks AWS; it tags every resource with
    its system and data classification; and production stacks are protected against deletion.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: Config,
        account: str,
        region: str | None = None,
        summary: str,
        system: str,
        classification: DataClassification,
    ) -> None:
        region = region or cfg.regions.primary.name
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=cfg.account_id(account), region=region),
            description=f"{cfg.municipality.name_romaji} City ({cfg.municipality.name_ja}) {cfg.name}: {summary}",
            termination_protection=cfg.is_production,
        )
        self.cfg = cfg
        self._zones = list(cfg.zones(region))
        self.required_tags = {
            **cfg.tags,
            "Municipality": cfg.municipality_tag,
            "Environment": cfg.name,
            "ManagedBy": MANAGED_BY,
            "System": system,
            "DataClassification": classification,
        }
        cdk.Tags.of(self).add("System", system)
        cdk.Tags.of(self).add("DataClassification", classification)
        self.node.add_validation(_TagReaderRoles(self))

    def access_log_bucket(self) -> s3.Bucket:
        """The S3 server access-log bucket of this stack's account and region (one per account and region that
        has buckets: S3 delivers access logs only within the same account and region)."""
        return AccessLogBucket(
            self,
            "AccessLogBucket",
            bucket_name=naming.access_log_bucket(self.cfg, self.account, self.region),
            expire_after_days=self.cfg.log_archive.access_log_expire_after_days,
        ).bucket

    def tag_raw_resource(self, resource: cdk.CfnResource) -> None:
        """Tags for a resource that CDK's tag aspect cannot reach (raw ``CfnResource`` of a CDK provider)."""
        resource.add_property_override("Tags", [{"Key": k, "Value": v} for k, v in sorted(self.required_tags.items())])

    @property
    def availability_zones(self) -> list[str]:
        """Zones from config: no context lookup, no AWS call."""
        return self._zones


@jsii.implements(IValidation)
class _TagReaderRoles:
    """Tags the roles CDK creates for other accounts to read this stack's outputs (``Publish/GetStackOutputRole``).

    CDK creates them while it resolves cross-stack references, after the Tags aspect has run, so the aspect never
    reaches them. Construct validations run after that resolution and before the templates are written: the tags
    are added here, and the validation itself never fails."""

    def __init__(self, stack: GovCloudStack) -> None:
        self._stack = stack

    def validate(self) -> list[str]:
        publish = self._stack.node.try_find_child("Publish")
        for child in publish.node.children if publish is not None else []:
            if cdk.CfnResource.is_cfn_resource(child) and child.cfn_resource_type == "AWS::IAM::Role":  # type: ignore[attr-defined]
                self._stack.tag_raw_resource(child)  # type: ignore[arg-type]
        return []
