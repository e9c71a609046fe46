"""Principals named by patterns of role ARNs (people's single sign-on roles, say)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam


def roles_matching(patterns: Sequence[str]) -> iam.IPrincipal:
    """The roles whose ARN matches one of ``patterns`` (``*`` allowed), and nobody else in their accounts: the
    accounts as principals, narrowed by ``aws:PrincipalArn`` (a trust may name a role by pattern only this way)."""
    accounts = sorted({pattern.split(":")[4] for pattern in patterns})
    principal: iam.IPrincipal = (
        iam.AccountPrincipal(accounts[0])
        if len(accounts) == 1
        else iam.CompositePrincipal(*(iam.AccountPrincipal(a) for a in accounts))
    )
    return iam.PrincipalWithConditions(principal, {"ArnLike": {"aws:PrincipalArn": sorted(patterns)}})
