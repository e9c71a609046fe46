"""boto3 access to the accounts of an environment: one session per account, retries, and errors a person can act on.

Every client honours ``AWS_ENDPOINT_URL`` (boto3 does), so the tools also run against a moto server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from botocore.parsers import ResponseParserError

RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=10, read_timeout=60)
SESSION_NAME = "govcloud-ops"


class ToolProblem(Exception):
    """A problem with the tool's own access (credentials, permissions, throttling), not with the environment."""


def explain(error: Exception, what: str) -> ToolProblem:
    """A :class:`ToolProblem` that says what failed and what to do about it."""
    if isinstance(error, NoCredentialsError):
        return ToolProblem(
            f"{what}: no AWS credentials. Sign in first (aws sso login --profile NAME, then AWS_PROFILE=NAME)."
        )
    if isinstance(error, NoRegionError):
        return ToolProblem(f"{what}: no region; the tools take regions from config, so this is a bug in the tool")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"):
            return ToolProblem(f"{what}: access denied ({code}). Use the role the README names for this command.")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId"):
            return ToolProblem(f"{what}: the credentials have expired or are not valid ({code}): sign in again.")
        if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"):
            return ToolProblem(f"{what}: AWS kept throttling after retries ({code}): wait a few minutes and rerun.")
        return ToolProblem(f"{what}: {code}: {error.response.get('Error', {}).get('Message', '')}")
    if isinstance(error, ResponseParserError):
        return ToolProblem(
            f"{what}: the endpoint answered something that is not an AWS response (an endpoint of AWS_ENDPOINT_URL "
            "that does not implement this call, or a proxy): check the endpoint"
        )
    return ToolProblem(f"{what}: {type(error).__name__}: {error}")


@dataclass
class Access:
    """Clients per account and region. With ``role_name``, the tool assumes that role in each account (``{account}``
    in it stands for the account's ID); without it, the current credentials must belong to the account asked for."""

    role_name: str | None = None
    session: Any = None
    _sessions: dict[str, Any] = field(default_factory=dict)
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.session is None:
            self.session = boto3.Session()

    def client(self, service: str, account: str, region: str, *, check: str = "") -> Any:
        """A client in an account and region, made once; ``check`` names the check that asks (tests hand some checks
        stubbed clients, for the calls moto does not model)."""
        key = (service, account, region)
        if key not in self._clients:
            self._clients[key] = self._session_for(account).client(service, region_name=region, config=RETRIES)
        return self._clients[key]

    def _session_for(self, account: str) -> Any:
        if account in self._sessions:
            return self._sessions[account]
        if self.role_name is None:
            found = call(
                lambda: self.session.client("sts", config=RETRIES, region_name="ap-northeast-1").get_caller_identity(),
                "reading the caller identity",
            )["Account"]
            if found != account:
                raise ToolProblem(
                    f"the credentials are for account {found}, but this step needs account {account}: sign in to "
                    "that account, or pass --role-name with a role the tool may assume there"
                )
            self._sessions[account] = self.session
            return self.session
        arn = f"arn:aws:iam::{account}:role/{self.role_name.format(account=account)}"
        credentials = call(
            lambda: self.session.client("sts", config=RETRIES, region_name="ap-northeast-1").assume_role(
                RoleArn=arn, RoleSessionName=SESSION_NAME
            )["Credentials"],
            f"assuming {arn}",
        )
        # One loader for every account's session: the service models are read from disk once, not once per account.
        core = botocore.session.Session()
        core.register_component("data_loader", self.session._session.get_component("data_loader"))
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            botocore_session=core,
        )
        self._sessions[account] = session
        return session


def call(operation: Callable[[], Any], what: str) -> Any:
    """Run one AWS call; any failure becomes a :class:`ToolProblem` that says what was being done."""
    try:
        return operation()
    except (BotoCoreError, ClientError, ResponseParserError) as error:
        raise explain(error, what) from None
