"""A failed build in one line naming the Dockerfile line (batchdeploy.images.failure), and the engine's
lines without Go value dumps (batchdeploy.engine.useful_line). The engine lines are podman 4.3's and
Docker's own words, copied from real failed builds."""

from __future__ import annotations

from batchdeploy.engine import useful_line
from batchdeploy.images.failure import explain, instructions, step_line

DUMP = (
    '&imagebuilder.Step{Env:[]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", '
    '"LANG=C.UTF-8", "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", "PYTHON_VERSION=3.12.4"}, '
    'Command:"form", Args:[]string{""}, Flags:[]string{}, Attrs:map[string]bool(nil), Message:"FORM ", '
    'Original:"FORM x"}'
)
PODMAN_UNKNOWN = f'Error: building at STEP "FORM ": Build error: Unknown instruction: "FORM" {DUMP}'
PODMAN_LOG_DUMP = f'time="2026-11-30T15:37:39Z" level=error msg="+(UNHANDLED LOGLEVEL) {DUMP}"'
DOCKERFILE = "FROM base:1\n# a comment\nCOPY . /app/\nFORM x\n"


def test_a_go_value_dump_is_cut_and_a_line_of_nothing_but_one_dropped():
    assert len(PODMAN_UNKNOWN) > 300
    assert useful_line(PODMAN_UNKNOWN) == 'Error: building at STEP "FORM ": Build error: Unknown instruction: "FORM"'
    assert useful_line(PODMAN_LOG_DUMP) is None
    for plain in [
        "STEP 2/3: COPY . /app/",
        'time="2026-11-30T15:37:34Z" level=error msg="did not get container create message from subprocess: EOF"',
        "Error: building at STEP \"RUN x\": while running runtime: exit status 1",
        'RUN python -c "print({1: 2})"',
        "Storing signatures",
    ]:
        assert useful_line(plain) == plain


def test_podmans_unknown_instruction_names_the_dockerfile_line():
    assert explain(PODMAN_UNKNOWN, DOCKERFILE, "Dockerfile") == "Dockerfile:4: unknown instruction: FORM"
    assert explain(useful_line(PODMAN_UNKNOWN), DOCKERFILE, "worker/Dockerfile") == (
        "worker/Dockerfile:4: unknown instruction: FORM"
    )


def test_podmans_failed_step_is_found_across_continuation_lines_and_comments():
    text = "FROM b\nRUN true\nRUN \\\n  true \\\n# inside\n  && false\nENV\n"
    line = 'Error: building at STEP "RUN true   && false": while running runtime: exit status 1'
    assert explain(line, text, "Dockerfile") == "Dockerfile:3: while running runtime: exit status 1"
    line = 'Error: building at STEP "ENV ": ENV requires at least one argument'
    assert explain(line, text, "Dockerfile") == "Dockerfile:7: ENV requires at least one argument"
    line = 'Error: building at STEP "run true": exit status 1'
    assert explain(line, text, "Dockerfile") == "Dockerfile:2: exit status 1"  # keywords are case-blind


def test_dockers_parse_errors_carry_their_line():
    buildkit = "ERROR: failed to build: failed to solve: dockerfile parse error on line 4: unknown instruction: FORM"
    assert explain(buildkit, DOCKERFILE, "Dockerfile") == "Dockerfile:4: unknown instruction: FORM"
    classic = "Error response from daemon: dockerfile parse error line 4: unknown instruction: FORM"
    assert explain(classic, DOCKERFILE, "Dockerfile") == "Dockerfile:4: unknown instruction: FORM"


def test_a_line_that_does_not_say_where_is_left_alone():
    assert explain("Error: no FROM statement found", DOCKERFILE, "Dockerfile") is None
    assert explain("exit status 1", DOCKERFILE, "Dockerfile") is None
    # A step the Dockerfile does not hold (a changed file): the step itself is named.
    assert explain('Error: building at STEP "RUN gone": exit status 1', DOCKERFILE, "Dockerfile") == (
        "Dockerfile: RUN gone: exit status 1"
    )


def test_instructions_follow_the_escape_directive():
    text = "# escape=`\nFROM b\nRUN a `\n  b\n"
    assert instructions(text) == [(2, "FROM b"), (3, "RUN a  b")]
    assert step_line(text, "RUN a b") == 3
    assert instructions("FROM b\nRUN a \\\n") == [(1, "FROM b"), (2, "RUN a ")]
