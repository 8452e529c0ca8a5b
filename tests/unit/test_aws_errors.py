"""The error edge: botocore's exceptions become one line with the right exit code."""

import botocore.exceptions as bex
import pytest

from batchdeploy.aws import Aws, AwsSettings, convert, is_retryable, translate
from batchdeploy.errors import ConfigError, OperationError


def client_error(code, status=400, message="nope"):
    return bex.ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SubmitJob"
    )


def test_access_denied_is_an_operation_failure_with_a_hint():
    e = convert(client_error("AccessDeniedException", 403, "not allowed"), "submit job x")
    assert isinstance(e, OperationError) and e.exit_code == 1
    assert e.line() == (
        "cannot submit job x: AccessDeniedException: not allowed; "
        "check the credentials and IAM permissions (README: IAM permissions)"
    )


def test_not_found_gets_the_callers_hint():
    e = convert(client_error("NoSuchBucket", 404, "The bucket does not exist"), "list s3://b", not_found="run --create")
    assert e.line() == "cannot list s3://b: The bucket does not exist; run --create"


def test_throttling_says_try_later():
    assert "try again later" in convert(client_error("ThrottlingException"), "x").line()


def test_missing_credentials_and_region_are_configuration_errors():
    assert convert(bex.NoCredentialsError(), "x").exit_code == 2
    assert convert(bex.NoRegionError(), "x").exit_code == 2
    assert "aws sso login" in convert(bex.TokenRetrievalError(provider="sso", error_msg="expired"), "x").line()


def test_connection_failure_names_the_endpoint_setting():
    e = convert(bex.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "describe")
    assert e.exit_code == 1 and "AWS_ENDPOINT_URL" in e.line()


def test_not_botocore_is_left_alone():
    assert convert(ValueError("bug"), "x") is None
    with pytest.raises(ValueError):
        with translate("x"):
            raise ValueError("bug")


def test_translate_raises_ours_without_the_chain():
    with pytest.raises(OperationError) as info:
        with translate("register job definition x"):
            raise client_error("ClientException", 400, "bad")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_only_throttling_and_5xx_are_retryable():
    assert is_retryable(client_error("ThrottlingException"))
    assert is_retryable(client_error("InternalError", 500))
    assert not is_retryable(client_error("AccessDeniedException", 403))
    assert not is_retryable(ValueError())


def test_unknown_profile_is_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="AWS profile 'nope' is not configured"):
        Aws(AwsSettings(region="us-east-1", profile="nope")).core  # noqa: B018


def test_settings_never_show_credentials():
    s = AwsSettings(region="us-east-1", access_key_id="AKIACANARY123", secret_access_key="CANARY-secret-xyz")
    assert "CANARY" not in repr(s) and "CANARY" not in repr(Aws(s))


# ---- exceptions that carry no response (issue #13: they used to raise AttributeError here) ------

NO_RESPONSE = [
    bex.ConnectionClosedError(endpoint_url="http://127.0.0.1:9/"),
    bex.EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"),
    bex.ReadTimeoutError(endpoint_url="http://127.0.0.1:9/"),
    bex.ConnectTimeoutError(endpoint_url="http://127.0.0.1:9/"),
]


@pytest.mark.parametrize("exc", NO_RESPONSE, ids=lambda e: type(e).__name__)
def test_connection_failures_become_one_line_naming_the_endpoint(exc):
    assert getattr(exc, "response", None) is None or isinstance(exc.response, dict)
    e = convert(exc, "list s3://b", endpoint="http://127.0.0.1:9")
    assert isinstance(e, OperationError) and e.exit_code == 1
    line = e.line()
    assert line.startswith(f"cannot list s3://b: {type(exc).__name__}: ")
    assert "http://127.0.0.1:9" in line and "\n" not in line


@pytest.mark.parametrize("exc", NO_RESPONSE, ids=lambda e: type(e).__name__)
def test_no_response_means_no_code_and_not_retryable_by_us(exc):
    from batchdeploy.aws.errors import error_code, http_status

    assert error_code(exc) == "" and http_status(exc) == 0 and not is_retryable(exc)


def test_translate_raises_ours_for_a_connection_failure():
    with pytest.raises(OperationError, match="ConnectionClosedError"):
        with translate("list s3://b"):
            raise bex.ConnectionClosedError(endpoint_url="http://127.0.0.1:9/")


@pytest.mark.parametrize("response", [None, {}, {"Error": None}, {"Error": "x"}, {"ResponseMetadata": "x"}])
def test_a_client_error_of_any_shape_still_translates(response):
    exc = bex.ClientError({"Error": {"Code": "X"}}, "Op")
    exc.response = response
    e = convert(exc, "do it")
    assert isinstance(e, OperationError) and e.line().startswith("cannot do it: ")


def test_an_answer_that_cannot_be_parsed_is_one_line_not_a_traceback():
    from botocore.parsers import ResponseParserError

    e = convert(ResponseParserError("Unable to parse response (syntax error), invalid XML received: b'<html>'"),
                "check the roles", endpoint="http://127.0.0.1:9")
    assert isinstance(e, OperationError)
    assert e.line().startswith("cannot check the roles: the answer could not be read (ResponseParserError); ")
    assert "<html>" not in e.line()
