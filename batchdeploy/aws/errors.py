"""botocore's exceptions as one-line errors: the edge where AWS failures are translated.

Every family is handled, including those that carry no response at all (connection closed, endpoint
unreachable, read time-out): a translation step never raises in its turn.
"""

from __future__ import annotations

from batchdeploy.errors import ConfigError, OperationError

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


def _response(exc) -> dict:
    """The parsed answer an exception carries; {} for the families that have none (HTTPClientError's
    `response` is None: the connection failed before AWS answered)."""
    response = getattr(exc, "response", None) if exc is not None else None
    return response if isinstance(response, dict) else {}


def error_code(exc) -> str:
    error = _response(exc).get("Error")
    return str(error.get("Code", "")) if isinstance(error, dict) else ""


def http_status(exc) -> int:
    meta = _response(exc).get("ResponseMetadata")
    status = meta.get("HTTPStatusCode", 0) if isinstance(meta, dict) else 0
    return status if isinstance(status, int) else 0


def is_retryable(exc) -> bool:
    """Throttling and 5xx: the only failures a retry can fix."""
    return error_code(exc) in THROTTLING or http_status(exc) >= 500


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


def convert(exc, doing: str, not_found: str | None = None, endpoint: str | None = None):
    """An exception from botocore as one of ours, or None when it is not botocore's.

    Never raises: an exception of an unexpected shape still becomes a line naming its type."""
    try:
        import botocore.exceptions as bex
    except ImportError:  # pragma: no cover
        return None
    try:
        return _convert(bex, exc, doing, not_found, endpoint)
    except Exception:  # noqa: BLE001 - the translation itself must not be what fails
        if isinstance(exc, (bex.ClientError, bex.BotoCoreError)):
            return OperationError(f"cannot {doing}: {type(exc).__name__}")
        return None


def _network_hint(endpoint: str | None) -> str:
    where = f" ({endpoint})" if endpoint else ""
    return f"check the network and the endpoint{where}, then run the command again; AWS_ENDPOINT_URL sets it"


def _convert(bex, exc, doing, not_found, endpoint):
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        error = _response(exc).get("Error")
        message = (error.get("Message", "") if isinstance(error, dict) else "") or str(exc)
        if not_found and ("NotFound" in code or "NoSuch" in code):
            return OperationError(f"cannot {doing}: {message}", hint=not_found)
        hint = None
        if code in USER_ERRORS:
            hint = "check the credentials and IAM permissions (README: IAM permissions)"
        elif code in THROTTLING:
            hint = "AWS is throttling this account; try again later"
        return OperationError(f"cannot {doing}: {code or http_status(exc) or 'error'}: {message}", hint=hint)
    if isinstance(exc, bex.NoCredentialsError):
        return ConfigError(
            f"cannot {doing}: no AWS credentials found",
            hint="configure a profile (aws configure / aws sso login) or set AWS_PROFILE",
        )
    if isinstance(exc, bex.NoRegionError):
        return ConfigError(f"cannot {doing}: no AWS region", hint="set AWS_REGION in .aws_env or the environment")
    if isinstance(exc, bex.TokenRetrievalError):
        return ConfigError(f"cannot {doing}: the SSO session has expired", hint="run `aws sso login`")
    # Connection failures (refused, reset, closed mid-answer, timed out) after botocore's retries.
    # HTTPClientError covers ConnectionClosedError, ReadTimeoutError, ProxyConnectionError, ...;
    # ConnectionError covers EndpointConnectionError and ConnectTimeoutError.
    network = tuple(
        getattr(bex, name) for name in ("HTTPClientError", "ConnectionError") if hasattr(bex, name)
    )
    if network and isinstance(exc, network):
        return OperationError(f"cannot {doing}: {type(exc).__name__}: {exc}", hint=_network_hint(endpoint))
    if isinstance(exc, bex.ParamValidationError):
        return OperationError(f"cannot {doing}: {exc}")
    from botocore.parsers import ResponseParserError  # not a BotoCoreError: an answer that is not AWS's shape

    if isinstance(exc, ResponseParserError):
        return OperationError(f"cannot {doing}: the answer could not be read (ResponseParserError)",
                              hint=_network_hint(endpoint))
    if isinstance(exc, bex.BotoCoreError):
        return OperationError(f"cannot {doing}: {type(exc).__name__}: {exc}")
    return None


def failure_kind(exc) -> str | None:
    """How a failed call that is not idempotent (SubmitJob, RegisterJobDefinition) may be retried:
    'unsent' (AWS never acted: connection refused, throttled; send again), 'lost' (AWS may have acted:
    the connection closed before the answer, a read time-out, a 5xx; look before sending again), or
    None (a real refusal: not retryable)."""
    try:
        import botocore.exceptions as bex
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (bex.ConnectTimeoutError, bex.EndpointConnectionError)):
        return "unsent"
    if isinstance(exc, bex.HTTPClientError):  # connection closed, read timeout: the answer was lost
        return "lost"
    if error_code(exc) in THROTTLING:
        return "unsent"
    if is_retryable(exc):  # 5xx: made or not, it cannot say
        return "lost"
    return None
