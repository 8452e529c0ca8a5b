"""The one place that makes AWS clients (profile, region, endpoint, role, retries), and the one that
turns botocore's exceptions into one-line errors. Nothing else calls `boto3.client(`.

boto3 is imported lazily so that `--help` and config errors never pay for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from batchdeploy.errors import ConfigError, OperationError

# botocore at DEBUG writes request bodies, credentials included, to the log. Keep it quiet whatever
# the root logger is set to; BATCHDEPLOY_DEBUG shows tracebacks, never wire logs.
for _name in ("botocore", "boto3", "s3transfer", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)

THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "RequestThrottled",
}
USER_ERRORS = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
}


@dataclass
class AwsSettings:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    role_arn: str | None = None
    retry_mode: str = "standard"
    max_attempts: int = 5
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    @classmethod
    def from_config(cls, cfg) -> AwsSettings:
        return cls(
            region=cfg.get("AWS_REGION"),
            profile=cfg.get("AWS_PROFILE"),
            endpoint_url=cfg.get("AWS_ENDPOINT_URL"),
            role_arn=cfg.get("ROLE_ARN"),
            retry_mode=cfg.get("AWS_RETRY_MODE", "standard"),
            max_attempts=int(cfg.get("AWS_MAX_ATTEMPTS", "5")),
            access_key_id=cfg.get("AWS_ACCESS_KEY_ID"),
            secret_access_key=cfg.get("AWS_SECRET_ACCESS_KEY"),
            session_token=cfg.get("AWS_SESSION_TOKEN"),
        )

    def __repr__(self):  # never show credentials, even in a debugger or a traceback
        return f"AwsSettings(region={self.region!r}, profile={self.profile!r}, endpoint_url={self.endpoint_url!r})"


class Aws:
    """A session and its clients, made once and handed to the rest as arguments."""

    def __init__(self, settings: AwsSettings, max_pool_connections: int = 10):
        self.settings = settings
        self.max_pool_connections = max_pool_connections
        self._core = None
        self._session = None
        self._clients: dict[tuple, object] = {}

    def __repr__(self):
        return f"Aws({self.settings!r})"

    @property
    def region(self) -> str | None:
        return self.core.get_config_variable("region")

    @property
    def core(self):
        """The botocore session every client comes from (profile, region, credentials, role)."""
        if self._core is None:
            self._core = self._make_core()
        return self._core

    @property
    def session(self):
        """A boto3 session over `core`: the same credentials, resolved once."""
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(botocore_session=self.core)
        return self._session

    def _botocore_config(self, **extra):
        """botocore settings; `extra` overrides them (retries={"total_max_attempts": 1}: a single try)."""
        from botocore.config import Config as BotoConfig

        settings = {
            # total_max_attempts counts the first try, as AWS_MAX_ATTEMPTS does ("max_attempts" would not).
            "retries": {"mode": self.settings.retry_mode, "total_max_attempts": self.settings.max_attempts},
            "max_pool_connections": self.max_pool_connections,
        }
        if "retries" in extra:
            extra = {**extra, "retries": {"mode": self.settings.retry_mode, **extra["retries"]}}
        settings.update(extra)
        return BotoConfig(**settings)

    def _make_core(self):
        """What boto3.session.Session(profile_name=..., region_name=..., keys...) sets up, without
        importing boto3 (60-80 ms of a no-change sync-to-s3, which needs botocore only)."""
        import botocore.exceptions
        import botocore.session

        s = self.settings
        core = botocore.session.Session(profile=s.profile)
        if s.region:
            core.set_config_variable("region", s.region)
        if s.access_key_id or s.secret_access_key or s.session_token:
            core.set_credentials(s.access_key_id, s.secret_access_key, s.session_token)
        try:
            region = core.get_config_variable("region")
            core.get_scoped_config()
        except botocore.exceptions.ProfileNotFound:
            raise ConfigError(
                f"AWS profile {s.profile!r} is not configured", hint="check AWS_PROFILE or run `aws configure`"
            ) from None
        if not region:
            raise ConfigError("no AWS region", hint="set AWS_REGION in .aws_env or the environment")
        if s.role_arn:
            core = self._assume(core, region, s.role_arn)
        return core

    def _assume(self, core, region, role_arn):
        import botocore.session

        sts = core.create_client(
            "sts", region_name=region, endpoint_url=self.settings.endpoint_url, config=self._botocore_config()
        )
        with translate("assume ROLE_ARN"):
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="batchdeploy")["Credentials"]
        assumed = botocore.session.Session()
        assumed.set_config_variable("region", region)
        assumed.set_credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        return assumed

    def client(self, service: str, *, lean: bool = False, **config):
        """A client of `service` (made once per configuration). `config` overrides botocore settings.
        lean=True: a plain botocore client, made without importing boto3 (it lacks boto3's injected
        helpers such as upload_file; s3transfer works with it)."""
        key = (service, lean, repr(sorted(config.items())))
        if key not in self._clients:
            if lean:
                self._clients[key] = self.core.create_client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.settings.endpoint_url,
                    config=self._botocore_config(**config),
                )
            else:
                self._clients[key] = self.session.client(
                    service, endpoint_url=self.settings.endpoint_url, config=self._botocore_config(**config)
                )
        return self._clients[key]

    def credentials(self):
        """The caller's own credentials (frozen), or None."""
        creds = self.session.get_credentials()
        return creds.get_frozen_credentials() if creds else None


def error_code(exc) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "") if exc is not None else ""


def is_retryable(exc) -> bool:
    """Throttling and 5xx: the only failures a retry can fix."""
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in THROTTLING or status >= 500


class translate:
    """Turn botocore's exceptions raised inside the block into one-line OperationError/ConfigError.

    `doing` says what was being attempted ("register job definition x"), so the line reads
    "cannot register job definition x: AccessDeniedException: ...".
    """

    def __init__(self, doing: str, not_found: str | None = None):
        self.doing = doing
        self.not_found = not_found

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            return False
        converted = convert(exc, self.doing, self.not_found)
        if converted is None:
            return False
        raise converted from None


def convert(exc, doing: str, not_found: str | None = None):
    """An exception from botocore as one of ours, or None when it is not botocore's."""
    try:
        import botocore.exceptions as bex
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        if not_found and ("NotFound" in code or "NoSuch" in code):
            return OperationError(f"cannot {doing}: {message}", hint=not_found)
        hint = None
        if code in USER_ERRORS:
            hint = "check the credentials and IAM permissions (README: IAM permissions)"
        elif code in THROTTLING:
            hint = "AWS is throttling this account; try again later"
        return OperationError(f"cannot {doing}: {code}: {message}", hint=hint)
    if isinstance(exc, bex.NoCredentialsError):
        return ConfigError(
            f"cannot {doing}: no AWS credentials found",
            hint="configure a profile (aws configure / aws sso login) or set AWS_PROFILE",
        )
    if isinstance(exc, bex.NoRegionError):
        return ConfigError(f"cannot {doing}: no AWS region", hint="set AWS_REGION in .aws_env or the environment")
    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError)):
        return OperationError(f"cannot {doing}: {exc}", hint="check the network and AWS_ENDPOINT_URL")
    if isinstance(exc, bex.TokenRetrievalError):
        return ConfigError(f"cannot {doing}: the SSO session has expired", hint="run `aws sso login`")
    if isinstance(exc, bex.ParamValidationError):
        return OperationError(f"cannot {doing}: {exc}")
    if isinstance(exc, bex.BotoCoreError):
        return OperationError(f"cannot {doing}: {exc}")
    return None
