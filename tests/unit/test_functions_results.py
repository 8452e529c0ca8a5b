"""A call's result on the client (batchdeploy.functions.results): the value, or the remote exception
raised here as it was raised there, with the remote traceback and output; what cannot be read named."""

from __future__ import annotations

import pickle
import sys
import types

import cloudpickle
import pytest

from batchdeploy.functions import results
from batchdeploy.launch.calls import PICKLE_PROTOCOL, PYTHON_MISMATCH, RESULT_FORMAT

TRACEBACK = 'Traceback (most recent call last):\n  File "<dynamic-code>", line 3, in fit\nKeyError: \'lr\'\n'


def pickled_elsewhere(name: str, base=object, *args) -> bytes:
    """An instance of a class in a module this side does not have (pickled by reference, as the
    remote side pickles a class of the project's code), so it cannot be unpickled here."""
    module = types.ModuleType("project_only_here")
    cls = type(name, (base,), {"__module__": module.__name__})
    setattr(module, name, cls)
    sys.modules[module.__name__] = module
    try:
        return cloudpickle.dumps(cls(*args))
    finally:
        del sys.modules[module.__name__]


def envelope(**over) -> bytes:
    doc = {"format": RESULT_FORMAT, "ok": True, "value": cloudpickle.dumps({"a": [1, 2]}), "stdout": "", "stderr": "",
           "python": "3.11.2", "host": "ip-10-0-0-1", "started": "2026-01-01T00:00:00.000Z", "ended": "2026-01-01T00:00:01.000Z"}
    return pickle.dumps({**doc, **over}, protocol=PICKLE_PROTOCOL)


def failure(exception: bytes | None, **error) -> bytes:
    err = {"type": "KeyError", "message": "'lr'", "traceback": TRACEBACK, "exception": exception, "stage": "call",
           "exit_code": 1, **error}
    return envelope(ok=False, value=None, error=err, stdout="epoch 1\nepoch 2\n", stderr="warning: x\n" + TRACEBACK)


def test_a_returned_value_is_read_back():
    assert results.read_result(envelope()) == {"a": [1, 2]}
    assert results.value is results.read_result


def test_the_remote_exception_is_raised_as_it_was_with_the_remote_traceback_and_output():
    with pytest.raises(KeyError) as raised:
        results.read_result(failure(cloudpickle.dumps(KeyError("lr"))))
    exc = raised.value
    assert exc.args == ("lr",) and exc.remote.stdout == "epoch 1\nepoch 2\n" and exc.remote.exit_code == 1
    details = "\n".join(exc.__notes__) if sys.version_info >= (3, 11) else str(exc.__cause__)
    assert details.startswith("Remote traceback (on ip-10-0-0-1):\nTraceback (most recent call last):")
    assert "Remote stdout (last 2 lines):\nepoch 1\nepoch 2" in details
    assert "Remote stderr (last 1 lines):\nwarning: x" in details and details.count("Traceback") == 1


def test_an_exception_this_side_cannot_unpickle_is_a_remote_error_with_everything():
    data = pickled_elsewhere("Missing", Exception, "x")
    for exception in (data, None):
        with pytest.raises(results.RemoteError) as raised:
            results.read_result(failure(exception, type="project.errors.Missing", message="x"))
        err = raised.value
        assert (err.type, err.message, err.stage, err.host) == ("project.errors.Missing", "x", "call", "ip-10-0-0-1")
        assert err.traceback == TRACEBACK and str(err).startswith("project.errors.Missing: x\nRemote traceback")


def test_a_refused_python_version_is_a_remote_error_naming_it():
    data = failure(None, type=PYTHON_MISMATCH, message="the call was pickled by Python 3.12 ...", traceback="",
                   stage="load", exit_code=117)
    with pytest.raises(results.RemoteError) as raised:
        results.read_result(data)
    assert raised.value.type == PYTHON_MISMATCH and raised.value.exit_code == 117


@pytest.mark.parametrize("data, message", [
    (b"not a pickle", "the call's result is not a result envelope: UnpicklingError"),
    (pickle.dumps({"format": "other"}), "the call's result is not a batchdeploy.result/1 envelope"),
    (pickle.dumps([1]), "the call's result is not a batchdeploy.result/1 envelope"),
])
def test_what_is_not_an_envelope_is_named(data, message):
    with pytest.raises(results.ResultUnreadable) as raised:
        results.read_result(data)
    assert raised.value.message.startswith(message)


def test_a_value_this_side_cannot_unpickle_is_named_with_a_hint():
    data = pickled_elsewhere("Model")
    with pytest.raises(results.ResultUnreadable) as raised:
        results.read_result(envelope(value=data))
    assert "cannot be unpickled here: ModuleNotFoundError" in raised.value.message and "import" in raised.value.hint


def helper(x):
    return {}[x]


def test_the_remote_traceback_names_the_clients_file_and_lines_for_a_function_shipped_by_value():
    def fit(lr):
        return helper(lr)

    start = fit.__code__.co_firstlineno
    remote = (f'Traceback (most recent call last):\n  File "<dynamic-code>", line {start + 1}, in fit\n'
              f'  File "<dynamic-code>", line {helper.__code__.co_firstlineno + 1}, in helper\n'
              '  File "<dynamic-code>", line 7, in elsewhere\nKeyError: 0.1\n')
    with pytest.raises(KeyError) as raised:
        results.read_result(failure(cloudpickle.dumps(KeyError(0.1)), traceback=remote), fit)
    text = raised.value.remote.traceback
    assert f'  File "{__file__}", line {start + 1}, in fit\n    return helper(lr)\n' in text
    assert f'  File "{__file__}", line {helper.__code__.co_firstlineno + 1}, in helper\n    return {{}}[x]\n' in text
    assert '  File "<dynamic-code>", line 7, in elsewhere\n' in text  # not known to be of this file: left as it was
    assert results.localize(remote, None) == remote


@pytest.mark.parametrize("remote", [SystemExit(2), KeyboardInterrupt()])
def test_a_remote_exit_or_interrupt_is_a_remote_error_and_never_ends_this_process(remote):
    data = failure(cloudpickle.dumps(remote), type=type(remote).__name__, message=str(remote))
    with pytest.raises(results.RemoteError) as raised:
        results.read_result(data)
    assert raised.value.type == type(remote).__name__ and isinstance(raised.value, Exception)
