"""--logs' choice of steps (pure); the lines themselves are read on the local stack
(tests/integration/test_pipeline_stack.py)."""

from __future__ import annotations

import pytest

from batchdeploy.errors import UsageError
from batchdeploy.pipelines.logs import check_choice, parse_choice


def test_no_flag_is_none_the_flag_alone_every_step_and_a_list_those_once():
    assert parse_choice(None) is None
    assert parse_choice("") == ()
    assert parse_choice("fit, sum,fit") == ("fit", "sum")


def test_a_step_not_in_the_pipeline_is_named_with_the_steps_there_are():
    check_choice(("fit",), ["prep", "fit"])
    check_choice((), ["prep"])
    with pytest.raises(UsageError, match="--logs fti: no such step") as got:
        check_choice(("fti",), ["prep", "fit"])
    assert got.value.hint == "the steps are prep, fit"
