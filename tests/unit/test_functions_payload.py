"""A call's payload on the client (batchdeploy.functions.payload): pickles named by their sha256,
the call object of the launcher's contract, and what cannot be pickled named before anything is sent."""

from __future__ import annotations

import base64
import hashlib
import pickle
import threading

import pytest

from batchdeploy.errors import UsageError
from batchdeploy.functions import payload
from batchdeploy.launch import spec
from batchdeploy.launch.calls import CALL_FORMAT, INLINE_ARGUMENTS_MAX


def scale(x, factor=2):
    return x * factor


def test_a_function_and_its_arguments_become_a_call_object_the_launcher_accepts():
    fn, args = payload.pickle_function(scale), payload.pickle_arguments((3,), {"factor": 5})
    assert isinstance(fn, bytes) and fn.sha256 == hashlib.sha256(fn).hexdigest()
    assert pickle.loads(fn)(*pickle.loads(args)[0], **pickle.loads(args)[1]) == 15
    prefix = payload.functions_prefix("/runs/")
    assert prefix == "runs/functions" and fn.key(prefix) == f"runs/functions/{fn.sha256}.pkl"
    call = payload.call_object(fn, args, bucket="bkt", prefix=prefix, result="s3://bkt/runs/R/results/1.pkl")
    assert call["format"] == CALL_FORMAT and call["python"] == payload.client_python()
    assert call["function"] == {"url": f"s3://bkt/runs/functions/{fn.sha256}.pkl", "sha256": fn.sha256}
    assert base64.b64decode(call["arguments"]["inline"]) == args and call["arguments"]["sha256"] == args.sha256
    assert spec.call_problems(call) == []
    assert payload.uploads(fn, args, prefix=prefix) == {fn.key(prefix): bytes(fn)}  # inline arguments need no object


def test_large_arguments_get_their_own_content_addressed_object():
    fn, args = payload.pickle_function(scale), payload.pickle_arguments((b"x" * (INLINE_ARGUMENTS_MAX + 1),), {})
    call = payload.call_object(fn, args, bucket="bkt", prefix="p/functions", result="s3://bkt/r.pkl", python="3.11")
    assert call["arguments"] == {"url": f"s3://bkt/p/functions/{args.sha256}.pkl", "sha256": args.sha256}
    assert set(payload.uploads(fn, args, prefix="p/functions")) == {fn.key("p/functions"), args.key("p/functions")}
    assert spec.call_problems(call) == []


def test_the_same_function_pickles_to_the_same_key():
    assert payload.pickle_function(scale).sha256 == payload.pickle_function(scale).sha256
    made = [lambda v: v + 1 for _ in range(2)]  # one code object, two function objects
    assert payload.pickle_function(made[0]).sha256 == payload.pickle_function(made[1]).sha256


@pytest.mark.parametrize("args, kwargs, index, message", [
    ((1, 2, threading.Lock()), {}, None, "argument 2 (a _thread.lock) cannot be pickled (TypeError: cannot pickle"),
    ((), {"lock": threading.Lock()}, None, "keyword argument 'lock' (a _thread.lock) cannot be pickled"),
    (([1, {"inner": threading.Lock()}],), {}, 5,
     "element 5 of the map: argument 0 (a list) cannot be pickled: [1]['inner'] (a _thread.lock) inside it"),
])
def test_an_argument_that_cannot_be_pickled_is_named(args, kwargs, index, message):
    with pytest.raises(UsageError) as err:
        payload.pickle_arguments(args, kwargs, index=index)
    assert err.value.message.startswith(message), err.value.message


class Holder:
    def __init__(self):
        self.lock = threading.Lock()


def test_what_a_function_holds_that_cannot_be_pickled_is_named():
    lock = threading.Lock()

    def uses_closure():
        return lock.locked()

    with pytest.raises(UsageError) as err:
        payload.pickle_function(uses_closure)
    assert err.value.message.startswith(
        "the function test_what_a_function_holds_that_cannot_be_pickled_is_named.<locals>.uses_closure (a function) "
        "cannot be pickled: its closure variable 'lock' (a _thread.lock) inside it (TypeError: cannot pickle")
    holder = Holder()

    def uses_object():
        return holder.lock

    with pytest.raises(UsageError, match=r"cannot be pickled: its closure variable 'holder'\.lock \(a _thread.lock\) inside it"):
        payload.pickle_function(uses_object)
    with pytest.raises(UsageError, match="is not callable"):
        payload.pickle_function(42)


def test_a_pickle_over_the_limit_is_refused_with_a_hint(monkeypatch):
    monkeypatch.setattr(payload, "MAX_PICKLE_BYTES", 2**20)
    with pytest.raises(UsageError) as err:
        payload.pickle_arguments((b"x" * 2**21,), {}, index=3)
    assert err.value.message == "element 3 of the map: the arguments pickle to 2.0 MiB, over the limit of 1.0 MiB"
    assert err.value.hint == "put large data in S3 and pass its s3:// URL for the function to read"
    big = b"y" * 2**21

    def holds_data():
        return len(big)

    with pytest.raises(UsageError, match=r"^the function .*holds_data and what it holds pickle to 2\.0 MiB"):
        payload.pickle_function(holds_data)
