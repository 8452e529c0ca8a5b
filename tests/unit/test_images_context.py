"""The content tag and Docker's .dockerignore rules (behaviour as documented by Docker and measured
with podman 4.3; see tests/integration/test_images_engine.py for the same cases against a real engine)."""

from __future__ import annotations

import os

import pytest

from batchdeploy.errors import ConfigError
from batchdeploy.images.context import content_tag, sent
from batchdeploy.images.ignore import Matcher, compile_pattern, find_ignore_file, parse_ignore

# (pattern, path, matches)
SINGLE = [
    ("*", "file", True),
    ("*.go", "main.go", True),
    ("*.go", "pkg/main.go", False),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/sub/file", True),
    ("abc/**", "abc", False),
    ("**/dir", "dir", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/dir/file", True),
    ("**file", "dir/barfile", True),  # a suffix test in Docker, not a path-component match
    ("**/file", "dir/dir/file", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abc/def", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("name", "name\n", False),  # Go's $ does not match before a final newline
]


@pytest.mark.parametrize("pattern,path,expected", SINGLE)
def test_one_pattern_matches_as_docker_does(pattern, path, expected):
    # Through the matcher, which cleans the pattern first ("**/" is "**"), as Docker's does.
    assert Matcher([pattern]).patterns[0].match(path) is expected
    assert compile_pattern(Matcher([pattern]).patterns[0].text).match(path) is expected


@pytest.mark.parametrize(
    "patterns,path,excluded",
    [
        (["docs"], "docs/README.md", True),  # a directory excludes what is under it
        (["docs", "!docs/README.md"], "docs/README.md", False),
        (["docs/", "!docs/README.md"], "docs/README.md", False),
        (["docs/*", "!docs/README.md"], "docs/README.md", False),
        (["docs/*", "!docs/README.md"], "docs/other.md", True),
        (["*.go", "!main.go"], "main.go", False),
        (["!main.go", "*.go"], "main.go", True),  # later lines win
        (["**", "!util/docker/web"], "util/docker/web/foo", False),
        (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
        (["/secret"], "secret", True),  # a leading / is the context's root
        (["secret"], "sub/secret", False),  # patterns are anchored at the root
        (["**/secret"], "sub/secret", True),
        (["sub/**", "!sub/keep"], "sub/x", True),
        (["sub/**", "!sub/keep"], "sub/keep", False),
        ([], "anything", False),
    ],
)
def test_patterns_in_order_with_exceptions(patterns, path, excluded):
    assert Matcher(parse_ignore("\n".join(patterns))).excluded(path) is excluded


def test_the_ignore_file_reader_follows_docker():
    text = "\ufefftest1\n/test2\n/a/file/here\n\nlastfile\n# a comment\n ! /inverted/abs/path\n  # not a comment\n./x/../y\r\n"
    assert parse_ignore(text) == ["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "# not a comment", "y"]


def test_a_lone_exclamation_mark_and_a_broken_bracket_are_errors():
    with pytest.raises(ValueError):
        Matcher(["!"])
    with pytest.raises(ValueError):
        Matcher(["a["])


def make_context(tmp_path, files: dict[str, str], dockerfile="FROM scratch\nCOPY . /app/\n"):
    ctx = tmp_path / "ctx"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


def tag_of(ctx, **kw):
    return content_tag(ctx, ctx / "Dockerfile", **kw).tag


def test_the_tag_is_short_stable_and_independent_of_where_the_project_lives(tmp_path):
    a = make_context(tmp_path / "one", {"app.py": "print(1)\n", "lib/util.py": "x = 1\n"})
    b = make_context(tmp_path / "two place", {"lib/util.py": "x = 1\n", "app.py": "print(1)\n"})
    for p in (a, b):
        os.utime(p / "app.py", (1, 1))
    assert tag_of(a) == tag_of(b)
    assert tag_of(a).startswith("c-") and len(tag_of(a)) == 18
    assert all(c in "0123456789abcdef" for c in tag_of(a)[2:])


def test_a_changed_file_changes_the_tag_and_an_ignored_one_does_not(tmp_path):
    ctx = make_context(tmp_path, {"app.py": "print(1)\n", "data/big.csv": "1,2\n", ".dockerignore": "data\n"})
    before = tag_of(ctx)
    (ctx / "data" / "big.csv").write_text("3,4\n")
    (ctx / "data" / "new.csv").write_text("5\n")
    assert tag_of(ctx) == before
    (ctx / "app.py").write_text("print(2)\n")
    assert tag_of(ctx) != before


def test_mode_symlinks_empty_folders_dockerfile_and_build_args_count(tmp_path):
    ctx = make_context(tmp_path, {"run.sh": "echo hi\n"})
    seen = {tag_of(ctx)}
    os.chmod(ctx / "run.sh", 0o755)
    seen.add(tag_of(ctx))
    os.symlink("run.sh", ctx / "link")
    seen.add(tag_of(ctx))
    (ctx / "empty").mkdir()
    seen.add(tag_of(ctx))
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    seen.add(tag_of(ctx))
    seen.add(tag_of(ctx, build_args={"A": "1"}))
    seen.add(tag_of(ctx, build_args={"A": "2"}))
    assert len(seen) == 7
    assert tag_of(ctx, build_args={"A": "1", "B": "2"}) == tag_of(ctx, build_args={"B": "2", "A": "1"})


def test_the_dockerfile_and_ignore_file_count_even_when_ignored(tmp_path):
    ctx = make_context(tmp_path, {"app.py": "1\n", ".dockerignore": "Dockerfile\n.dockerignore\n"})
    tag = content_tag(ctx, ctx / "Dockerfile")
    assert [e.path for e in tag.entries] == ["app.py"]
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY app.py /\n")
    assert tag_of(ctx) != tag.tag
    before = tag_of(ctx)
    (ctx / ".dockerignore").write_text("Dockerfile\n.dockerignore\n# a comment\n")
    assert tag_of(ctx) != before


def test_an_exception_inside_an_excluded_folder_is_found(tmp_path):
    ctx = make_context(tmp_path, {"sub/x": "", "sub/deep/y": "", "sub/keep": "", ".dockerignore": "sub\n!sub/keep\n"})
    paths = [e.path for e in content_tag(ctx, ctx / "Dockerfile").entries]
    assert paths == [".dockerignore", "Dockerfile", "sub/keep"]


def test_which_ignore_file_applies_depends_on_the_engine(tmp_path):
    ctx = make_context(tmp_path, {".dockerignore": "a\n", ".containerignore": "b\n"})
    assert find_ignore_file(ctx, ctx / "Dockerfile", "docker").name == ".dockerignore"
    assert find_ignore_file(ctx, ctx / "Dockerfile", "podman").name == ".containerignore"
    (ctx / "Dockerfile.dockerignore").write_text("c\n")
    assert find_ignore_file(ctx, ctx / "Dockerfile", "docker").name == "Dockerfile.dockerignore"
    assert find_ignore_file(ctx, ctx / "Dockerfile", "podman").name == "Dockerfile.dockerignore"
    assert sent(ctx, ctx / "Dockerfile", "a", "docker")
    assert not sent(ctx, ctx / "Dockerfile", "c", "docker")


def test_a_bad_pattern_is_a_configuration_error_naming_the_file(tmp_path):
    ctx = make_context(tmp_path, {".dockerignore": "ok\n[oops\n"})
    with pytest.raises(ConfigError, match=r"\.dockerignore: bad pattern"):
        tag_of(ctx)


def test_an_unreadable_file_is_named(tmp_path):
    """Root reads every file, so as root (CI) the check runs in a child whose bounding set lacks the
    capabilities that let root ignore a file's mode (setpriv, util-linux): there the file is unreadable."""
    ctx = make_context(tmp_path, {"secret.txt": "x"})
    os.chmod(ctx / "secret.txt", 0)
    if os.geteuid() != 0:
        with pytest.raises(ConfigError, match="secret.txt"):
            tag_of(ctx)
        return
    import subprocess
    import sys

    from tests.conftest import ROOT

    check = ("import sys; from batchdeploy.errors import ConfigError; from batchdeploy.images.context import content_tag\n"
             "try:\n    content_tag(sys.argv[1], sys.argv[1] + '/Dockerfile')\n"
             "except ConfigError as exc:\n    print(exc.line())")
    done = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", sys.executable, "-c",
                           check, str(ctx)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"cannot read {ctx / 'secret.txt'}: Permission denied"), done.stdout


def test_left_out_paths_do_not_count(tmp_path):
    ctx = make_context(tmp_path, {"app.py": "1\n", ".batchdeploy/images.json": "{}\n"})
    before = content_tag(ctx, ctx / "Dockerfile", leave_out=(".batchdeploy",)).tag
    (ctx / ".batchdeploy" / "images.json").write_text('{"images": {}}\n')
    assert content_tag(ctx, ctx / "Dockerfile", leave_out=(".batchdeploy",)).tag == before
    assert content_tag(ctx, ctx / "Dockerfile").tag != before


def test_a_fifo_the_engine_would_copy_is_refused_by_name(tmp_path):
    ctx = make_context(tmp_path, {"app.py": "1\n"})
    os.mkfifo(ctx / "pipe")
    with pytest.raises(ConfigError) as err:
        tag_of(ctx)  # never opened: reading a FIFO would block
    assert err.value.exit_code == 2
    assert f"{ctx / 'pipe'} is a FIFO" in err.value.line() and "`pipe`" in err.value.line()
    (ctx / ".dockerignore").write_text("pipe\n")
    assert [e.path for e in content_tag(ctx, ctx / "Dockerfile").entries] == [".dockerignore", "Dockerfile", "app.py"]


def test_a_socket_is_left_out_as_the_engines_leave_it_out(tmp_path):
    import socket

    ctx = make_context(tmp_path, {"app.py": "1\n"})
    before = tag_of(ctx)
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(ctx / "s.sock"))
        assert tag_of(ctx) == before


def test_build_secrets_count_by_name_never_by_value(tmp_path):
    ctx = make_context(tmp_path, {"app.py": "1\n"})
    plain = tag_of(ctx)
    with_secret = content_tag(ctx, ctx / "Dockerfile", secret_names=("NPM_TOKEN",))
    assert with_secret.tag != plain
    assert tag_of(ctx, secret_names=("NPM_TOKEN", "NPM_TOKEN")) == with_secret.tag
    assert tag_of(ctx, secret_names=("A", "B")) == tag_of(ctx, secret_names=("B", "A"))
