"""Check a request against botocore's service model before any call to AWS.

botocore's own ParamValidationError stops at the first kind of problem and knows nothing of the
file the request came from; this walks the whole shape and returns every problem with its JSON
path (`containerProperties.resourceRequirements[0].value: expected a string`), so a user fixes a
file in one pass. Limits the model does not carry (24 KiB, name patterns, ...) are checked by the
verb that knows them.
"""

from __future__ import annotations

import functools


@functools.cache
def _service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def input_shape(service: str, operation: str):
    return _service_model(service).operation_model(operation).input_shape


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _type_name(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def check(shape, value, path: str = "") -> list[str]:
    """Every problem of `value` against botocore `shape`, as `path: what is wrong`."""
    where = path or "(top)"
    t = shape.type_name
    problems: list[str] = []
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {_type_name(value)}"]
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{_join(path, name)}: required but missing")
        for name, item in value.items():
            if name not in shape.members:
                problems.append(f"{_join(path, name)}: unknown field (not in the {shape.name} shape)")
                continue
            problems += check(shape.members[name], item, _join(path, name))
        return problems
    if t == "list":
        if not isinstance(value, list):
            return [f"{where}: expected an array, got {_type_name(value)}"]
        problems += _bounds(shape, len(value), where, "items")
        for i, item in enumerate(value):
            problems += check(shape.member, item, f"{path}[{i}]")
        return problems
    if t == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {_type_name(value)}"]
        for k, v in value.items():
            problems += check(shape.key, k, f"{where} key {k!r}")
            problems += check(shape.value, v, _join(path, k))
        return problems
    if t == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {_type_name(value)}"]
        if shape.enum and value not in shape.enum:
            return [f"{where}: {value!r} is not one of {', '.join(shape.enum)}"]
        return _bounds(shape, len(value), where, "characters")
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where}: expected an integer, got {_type_name(value)}"]
        return _bounds(shape, value, where, None)
    if t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{where}: expected a number, got {_type_name(value)}"]
        return []
    if t == "boolean":
        if not isinstance(value, bool):
            return [f"{where}: expected true or false, got {_type_name(value)}"]
        return []
    if t == "timestamp":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return [f"{where}: expected a timestamp, got {_type_name(value)}"]
        return []
    if t == "blob":
        if not isinstance(value, (str, bytes)):
            return [f"{where}: expected base64 text, got {_type_name(value)}"]
        return []
    return []


def _bounds(shape, n, where, unit) -> list[str]:
    lo = shape.metadata.get("min")
    hi = shape.metadata.get("max")
    what = f"{n} {unit}" if unit else str(n)
    if lo is not None and n < lo:
        return [f"{where}: {what} is below the minimum of {lo}"]
    if hi is not None and n > hi:
        return [f"{where}: {what} is above the maximum of {hi}"]
    return []


def request(service: str, operation: str, params: dict) -> list[str]:
    """Every problem of `params` as the input of `service`.`operation`."""
    return check(input_shape(service, operation), params)
