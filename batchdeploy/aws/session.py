"""The one place that makes AWS sessions and clients (profile, region, endpoint, role, retries).
Nothing else calls `boto3.client(`, `Session(` or `create_client(` (a house-rule test holds that).

botocore is imported lazily so that `--help` and config errors never pay for it; boto3 is not used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from batchdeploy.aws.errors import translate
from batchdeploy.errors import ConfigError

# botocore at DEBUG writes request bodies, credentials included, to the log. Keep it quiet whatever
# the root logger is set to; BATCHDEPLOY_DEBUG shows tracebacks, never wire logs.
for _name in ("botocore", "boto3", "s3transfer", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)

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
        """What boto3.session.Session(profile_name=..., region_name=..., keys...) would set up."""
        s = self.settings
        core = _profile_session(s.profile, s.region)
        if s.access_key_id or s.secret_access_key or s.session_token:
            core.set_credentials(s.access_key_id, s.secret_access_key, s.session_token)
        region = _region_of(core, s.profile)
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

    def client(self, service: str, **config):
        """A botocore client of `service` (made once per configuration); `config` overrides botocore
        settings. Nothing in batchdeploy needs boto3's extras (upload_file, resources): s3transfer
        works with a plain client, and botocore alone starts 60-80 ms faster."""
        key = (service, repr(sorted(config.items())))
        if key not in self._clients:
            self._clients[key] = self.core.create_client(
                service,
                region_name=config.pop("region_name", None) or self.region,
                endpoint_url=self.settings.endpoint_url,
                config=self._botocore_config(**config),
            )
        return self._clients[key]

    def live_credentials(self):
        """The caller's credentials as botocore holds them (refreshable), or None."""
        return self.core.get_credentials()

    def credentials(self):
        """The caller's own credentials (frozen), or None."""
        creds = self.live_credentials()
        return creds.get_frozen_credentials() if creds else None


def _profile_session(profile: str | None, region: str | None):
    import botocore.session

    core = botocore.session.Session(profile=profile)
    if region:
        core.set_config_variable("region", region)
    return core


def _region_of(core, profile: str | None) -> str:
    """The session's region; a missing profile or region is a ConfigError naming the fix."""
    import botocore.exceptions

    try:
        region = core.get_config_variable("region")
        core.get_scoped_config()
    except botocore.exceptions.ProfileNotFound:
        raise ConfigError(
            f"AWS profile {profile!r} is not configured", hint="check AWS_PROFILE or run `aws configure`"
        ) from None
    if not region:
        raise ConfigError("no AWS region", hint="set AWS_REGION in .aws_env or the environment")
    return region


def resolve_region(region: str | None, profile: str | None) -> str:
    """The region, found locally (configuration, else the profile) without credentials or any call,
    so that a missing one is reported before anything else happens."""
    return region or _region_of(_profile_session(profile, None), profile)
