"""The benchmark's pure parts (bench/): log parsing, request naming, statistics, targets, the report.

No timings here: the benchmark itself is run by hand or by `make bench`. These keep its arithmetic and
its bookkeeping from rotting unseen between runs.
"""

from __future__ import annotations

import http.server
import shlex
import sys
import threading
from collections import Counter

import pytest

from bench import report
from bench.harness import NOT_IMPLEMENTED, Runner, Sample, Scenario, Side, measure
from bench.server import LogCounter
from bench.stats import (
    MISS,
    NOT_RUN,
    PASS,
    Request,
    classify,
    classify_registry,
    classify_s3,
    count,
    describe_floor,
    extrapolate,
    fmt_counts,
    fmt_ratio,
    fmt_seconds,
    import_profile,
    list_floor,
    md_table,
    median_counts,
    parse_requests,
    ratio,
    rotate,
    summarize,
    verdict,
)

MOTO_LOG = """\
 * Running on http://127.0.0.1:5000
127.0.0.1 - - [21/Nov/2025 12:00:00] "GET /moto-api/?m=abc HTTP/1.1" 200 -
127.0.0.1 - - [21/Nov/2025 12:00:01] "PUT /bench-bd-r0/tree/exp00/run0/file-00000.txt HTTP/1.1" 200 -
127.0.0.1 - - [21/Nov/2025 12:00:01] "GET /bench-bd-r0?list-type=2&prefix=tree%2F&encoding-type=url HTTP/1.1" 200 -
127.0.0.1 - - [21/Nov/2025 12:00:02] "POST /v1/submitjob HTTP/1.1" 200 -
127.0.0.1 - - [21/Nov/2025 12:00:02] "POST / HTTP/1.1" 200 -
garbage line without a request
127.0.0.1 - - [21/Nov/2025 12:00:03] "HEAD /b/missing HTTP/1.1" 404 -
127.0.0.1 - - [21/Nov/2025 12:00:03] "GET /b/k HTTP/1.1" 500 -
"""

REGISTRY_LOG = """\
time="2025-11-21T12:00:00Z" level=info msg="response completed"
127.0.0.1 - - [21/Nov/2025:12:00:00 +0000] "HEAD /v2/bench/manifests/c-123 HTTP/1.1" 200 0 "" "podman/4.3.1"
127.0.0.1 - - [21/Nov/2025:12:00:01 +0000] "PUT /v2/team/bench/manifests/1.0.0 HTTP/1.1" 201 0 "" "podman/4.3.1"
"""


def test_parse_requests_keeps_order_and_leaves_out_the_harness():
    reqs = parse_requests(MOTO_LOG)
    assert reqs[0] == Request("PUT", "/bench-bd-r0/tree/exp00/run0/file-00000.txt", 200)
    assert [r.method for r in reqs] == ["PUT", "GET", "POST", "POST", "HEAD", "GET"]
    assert all(not r.path.startswith("/moto-api") for r in reqs)
    assert reqs[-1].status == 500


def test_parse_requests_reads_the_registry_log_format_too():
    reqs = parse_requests(REGISTRY_LOG, skip_prefixes=())
    assert [(r.method, r.status) for r in reqs] == [("HEAD", 200), ("PUT", 201)]


@pytest.mark.parametrize(
    "method,path,label",
    [
        ("PUT", "/b/k", "PUT"),
        ("PUT", "/b/big.bin?partNumber=2&uploadId=xyz", "PUT"),
        ("GET", "/b/dir/k.txt", "GET"),
        ("GET", "/b?list-type=2&prefix=tree%2F", "LIST"),
        ("GET", "/b/?prefix=x&delimiter=%2F", "LIST"),
        ("GET", "/b", "LIST"),
        ("GET", "/b?location", "GET"),
        ("HEAD", "/b/k", "HEAD"),
        ("POST", "/b/big.bin?uploads", "POST"),
        ("POST", "/b?delete", "POST"),
        ("DELETE", "/b/k", "DELETE"),
    ],
)
def test_s3_requests_are_named_by_what_they_do(method, path, label):
    assert classify_s3(method, path) == label
    assert classify(method, path) == label


def test_batch_and_json_apis_are_named_by_operation():
    assert classify("POST", "/v1/submitjob") == "SubmitJob"
    assert classify("POST", "/v1/describejobs") == "DescribeJobs"
    assert classify("POST", "/v1/registerjobdefinition") == "RegisterJobDefinition"
    assert classify("POST", "/v1/somethingnew") == "batch:somethingnew"
    assert classify("GET", "/v1/tags/arn%3Aaws%3Abatch") == "Tags"
    assert classify("POST", "/") == "POST /"


@pytest.mark.parametrize(
    "method,path,label",
    [
        ("GET", "/v2/", "ping"),
        ("HEAD", "/v2/bench/manifests/c-123", "look-up"),
        ("GET", "/v2/team/bench/manifests/sha256:abc", "look-up"),
        ("PUT", "/v2/team/bench/manifests/1.0.0", "push"),
        ("POST", "/v2/bench/blobs/uploads/", "blob upload"),
        ("PATCH", "/v2/bench/blobs/uploads/0f1e-uuid?_state=x", "blob upload"),
        ("PUT", "/v2/bench/blobs/uploads/0f1e-uuid?digest=sha256:1", "blob upload"),
        ("HEAD", "/v2/bench/blobs/sha256:abc", "look-up"),
        ("GET", "/v2/bench/tags/list", "look-up"),
        ("GET", "/metrics", "GET other"),
    ],
)
def test_registry_requests_are_named(method, path, label):
    assert classify_registry(method, path) == label


def test_count_and_median_counts():
    reqs = parse_requests(MOTO_LOG)
    c = count(reqs)
    assert c == Counter({"PUT": 1, "LIST": 1, "SubmitJob": 1, "POST /": 1, "HEAD": 1, "GET": 1})
    assert median_counts([Counter(PUT=10), Counter(PUT=12, LIST=1), Counter(PUT=11)]) == {"LIST": 0, "PUT": 11}
    assert median_counts([]) == {}


def test_summaries():
    s = summarize([3.0, 1.0, 2.0])
    assert (s.n, s.median, s.low, s.high) == (3, 2.0, 1.0, 3.0)
    assert (s.q1, s.q3) == (1.5, 2.5)
    even = summarize([4.0, 1.0, 2.0, 3.0])
    assert even.median == 2.5 and even.spread == 3.0
    one = summarize([0.5])
    assert (one.median, one.q1, one.q3, one.low, one.high) == (0.5, 0.5, 0.5, 0.5, 0.5)
    with pytest.raises(ValueError):
        summarize([])


def test_ratio_extrapolation_floors_rotation():
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(None, 1.0) is None and ratio(1.0, None) is None and ratio(1.0, 0.0) is None
    assert extrapolate(2.0, 5, 1000) == pytest.approx(400.0)
    with pytest.raises(ValueError):
        extrapolate(1.0, 0, 10)
    assert [describe_floor(n) for n in (1, 100, 101, 1000)] == [1, 1, 2, 10]
    assert [list_floor(n) for n in (0, 1, 1000, 1001, 2000)] == [1, 1, 1, 2, 2]
    assert rotate(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert rotate(["a", "b", "c"], 1) == ["b", "c", "a"]
    assert rotate(["a", "b", "c"], 5) == ["c", "a", "b"]
    assert rotate([], 3) == []


def test_verdicts():
    assert verdict(0.5, 0.6, "max") == PASS
    assert verdict(0.6, 0.6, "max") == PASS
    assert verdict(0.7, 0.6, "max") == MISS
    assert verdict(150, 100, "min") == PASS
    assert verdict(10, 10, "eq") == PASS and verdict(11, 10, "eq") == MISS
    assert verdict(None, 1, "max") == NOT_RUN
    with pytest.raises(ValueError):
        verdict(1, 1, "sideways")


def test_formatting():
    assert fmt_seconds(0.0123) == "12 ms"
    assert fmt_seconds(0.0051) == "5.1 ms"
    assert fmt_seconds(1.234) == "1.23 s"
    assert fmt_seconds(432.1) == "432 s"
    assert fmt_seconds(None) == "–"
    assert fmt_ratio(0.0016) == "0.0016" and fmt_ratio(0.857) == "0.86" and fmt_ratio(None) == "–"
    assert fmt_counts(Counter(LIST=1, PUT=0, ZZ=2, AA=3), ("PUT", "LIST")) == "LIST 1, AA 3, ZZ 2"
    assert fmt_counts({}, ("PUT",)) == "none"
    assert fmt_counts({"POST /": 0.5}) == "POST / 0.5"
    table = md_table(["a", "b"], [["x|y", "line\nbreak"]])
    assert table.splitlines() == ["| a | b |", "| --- | --- |", "| x\\|y | line break |"]


def test_a_scaled_side_reports_scaled_seconds():
    side = Side("loop", "loop.sh", n=5, scale_to=1000, samples=[Sample(2.0, Counter(SubmitJob=5))])
    assert side.seconds() == [pytest.approx(400.0)]
    plain = Side("py", "py", samples=[Sample(2.0, Counter())])
    assert plain.seconds() == [2.0]


def test_a_side_keeps_its_first_failure():
    side = Side("bd", "bd", ours=True)
    side.mark("failed: first")
    side.mark("failed: second")
    assert side.status == "failed: first" and not side.ok


def _sync_scenarios(bd_up: float, bd_status: str = "ok") -> dict[str, Scenario]:
    def sc(key, bd_counts):
        bd = Side("batchdeploy", "bd", ours=True, status=bd_status)
        if bd_status == "ok":
            bd.samples = [Sample(bd_up, Counter(bd_counts)), Sample(bd_up, Counter(bd_counts))]
        aws = Side("aws s3 sync", "aws", samples=[Sample(1.0, Counter(PUT=0, LIST=1))] * 2)
        s5 = Side("s5cmd sync", "s5", samples=[Sample(0.5, Counter(LIST=1))] * 2)
        return Scenario(key, key, "", [bd, aws, s5], count_order=("PUT", "LIST"))

    # 2,000 keys take two ListObjectsV2 pages: the re-sync lists twice; the edit case here only once
    return {"1": sc("1", {"PUT": 2000, "LIST": 2}), "2": sc("2", {"LIST": 2}), "3": sc("3", {"PUT": 10, "LIST": 1})}


def test_targets_pass_miss_and_say_why():
    by_key = _sync_scenarios(0.8)
    ts = {t.key: t for t in report.targets(by_key, files=2000, fanout_n=1000, watch_n=1000)}
    assert ts["1a"].verdict == PASS and ts["1a"].measured == "0.80"
    assert ts["1b"].verdict == MISS and "800 ms against 500 ms" in ts["1b"].why and ts["1b"].close
    assert ts["2c"].verdict == PASS and ts["2d"].verdict == PASS
    assert ts["3c"].verdict == PASS
    assert ts["3d"].verdict == MISS and ts["3d"].limit == "= 2" and "1 LIST per run" in ts["3d"].why
    assert ts["2a"].verdict == MISS  # 0.8 > 0.6
    assert ts["4a"].verdict == NOT_RUN and ts["4a"].why == "scenario not selected"


def test_iteration_targets_read_the_medians_and_the_launchers_overhead():
    from bench.iteration import overhead_summary

    sc = Scenario("10", "iteration", "")
    sides = [Side("-r --code --wait", "c", ours=True), Side("image way (-b, -u, -r --wait)", "i"),
             Side("plain -r --wait", "p")]
    for side, secs in zip(sides, (6.0, 20.0, 5.5)):
        side.samples.append(Sample(secs, Counter({"DescribeJobs": 4})))
    sc.sides = sides
    records = [{"before_command": b, "after_command": 0.01, "phases": {"client": 0.4, "bundle": b}, "bundle_bytes": 10**7}
               for b in (0.6, 0.7, 1.4)]
    sc.values.update(code=6.0, image=20.0, plain=5.5, overhead_10mb=overhead_summary(records + [None]))
    assert sc.values["overhead_10mb"]["n"] == 3 and sc.values["overhead_10mb"]["phases"]["bundle"] == 0.7
    ts = {t.key: t for t in report.targets({"10": sc}, 10, 10, 10)}
    assert ts["10"].verdict == MISS and "plain -r --wait of the same job takes" in ts["10"].why
    assert (ts["10b"].verdict, ts["10b"].measured) == (PASS, "+0.50 s")
    assert ts["10c"].verdict == PASS and ts["10d"].verdict == PASS  # medians: 0.7 s and 10 ms
    sc.values["overhead_10mb"] = None
    assert next(t for t in report.targets({"10": sc}, 10, 10, 10) if t.key == "10d").why == "no task records read"
    assert report.targets({}, 10, 10, 10)[-1].why == "scenario not selected"


def test_a_verb_not_implemented_is_reported_not_failed(tmp_path):
    class NoCounter:
        def mark(self):
            return 0

        def counts_since(self, mark):
            return Counter(), 0

    runner = Runner({"PATH": "/usr/bin:/bin"}, tmp_path / "logs", {"aws": NoCounter()})
    sc = Scenario("1", "upload", "")
    ours = Side("batchdeploy", "bd", ours=True)
    peer = Side("peer", "peer")
    sc.sides = [ours, peer]
    not_yet = ["bash", "-c", "echo 'batchdeploy: error: `sync-to-s3` is not implemented yet; see --help' >&2; exit 2"]
    assert measure(runner, sc, ours, not_yet, tmp_path) is None
    assert ours.status == NOT_IMPLEMENTED
    broken = ["bash", "-c", "echo 'it broke' >&2; exit 3"]
    assert measure(runner, sc, peer, broken, tmp_path) is None
    assert peer.status.startswith("failed: exit 3: it broke")
    # the same words from a peer are a failure, not a verb of ours still being built
    other = Side("peer2", "peer2")
    assert measure(runner, sc, other, not_yet, tmp_path) is None and other.status.startswith("failed: exit 2")
    fine = Side("fine", "fine")
    assert measure(runner, sc, fine, ["true"], tmp_path).seconds >= 0
    text = report.render(mode_name="quick", quick=True, started="now", seconds=1.0, machine={"cpu": "x"},
                         versions={"python": "3"}, scenarios=[sc], target_list=report.targets({"1": sc}, 10, 10, 10),
                         notes=["busy machine"], command="make bench-quick")
    assert NOT_IMPLEMENTED in text and "quick run" in text and "- busy machine" in text
    assert "## Targets" in text and "## Closing note" in text


def test_log_counter_counts_only_what_came_after_the_mark(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.end_headers()

        do_PUT = do_GET  # noqa: N815

        def log_message(self, fmt, *args):
            with open(log, "a") as f:
                f.write(f'127.0.0.1 - - [x] "{self.requestline}" {args[1]} -\n')

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        import urllib.request

        url = f"http://127.0.0.1:{server.server_port}"
        counter = LogCounter(url + "/moto-api/", log)
        urllib.request.urlopen(url + "/b/before").read()
        mark = counter.mark()
        urllib.request.urlopen(urllib.request.Request(url + "/b/k", data=b"x", method="PUT")).read()
        urllib.request.urlopen(url + "/b?list-type=2").read()
        counts, errors = counter.counts_since(mark)
        assert counts == Counter(PUT=1, LIST=1) and errors == 0
    finally:
        server.shutdown()
        server.server_close()


def test_import_profile_sums_top_level_imports_only():
    stderr = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _io
import time:       300 |     250000 | boto3
import time:       200 |     100000 |   botocore
import time:        50 |        400 |     botocore.compat
import time:       462 |     412599 | botocore.config
batchdeploy: error: unrelated line
import time:       900 |     not-a-number | broken
"""
    total, top = import_profile(stderr)
    assert total == pytest.approx(0.662599)
    assert top == [("botocore.config", 0.412599), ("boto3", 0.25)]
    assert import_profile("") == (0.0, [])


def test_client_cpu_is_measured_over_the_whole_process_tree_and_shown(tmp_path):
    class NoCounter:
        def mark(self):
            return 0

        def counts_since(self, mark):
            return Counter(), 0

    runner = Runner({"PATH": "/usr/bin:/bin"}, tmp_path / "logs", {"aws": NoCounter()})
    # The CPU is burnt by a grandchild (bash -> python), as deploy.sh -> python or aws -> workers do.
    burn = ["bash", "-c", f"{shlex.quote(sys.executable)} -c 'sum(range(3_000_000))'"]
    sample = runner.run("burn", burn, tmp_path, ours=False)
    assert sample.cpu is not None and 0 < sample.cpu <= sample.seconds * 2 + 0.05
    scaled = Side("loop", "loop.sh", n=5, scale_to=1000, samples=[Sample(2.0, Counter(), cpu=0.5), Sample(2.0, Counter())])
    assert scaled.cpu_seconds() == [pytest.approx(100.0)]  # scaled like the seconds; a sample without CPU left out
    sc = Scenario("1", "upload", "", [Side("batchdeploy", "bd", ours=True, samples=[Sample(1.0, Counter(), cpu=0.25)]),
                                      Side("peer", "peer", samples=[Sample(2.0, Counter())])])
    (ours, peer) = report.side_rows(sc)
    assert ours[4] == "250 ms" and peer[4] == "–"
    text = report.render(mode_name="quick", quick=True, started="now", seconds=1.0, machine={"cpu": "x"},
                         versions={"python": "3"}, scenarios=[sc], target_list=[], notes=[], command="make bench-quick")
    assert "client CPU (median)" in text


# ---- scenarios 11-12 (issue #16): the sweep's pure helpers and targets ----------------------------


def test_the_sweep_tasks_file_reads_as_n_distinct_tasks():
    from batchdeploy.sweeps.tasksfile import read_tasks_file
    from bench.sweeps import tasks_file_text

    text = tasks_file_text(250)
    assert text.splitlines()[0] == "--param seed\t--param learning_rate" and len(text.splitlines()) == 251
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "t.tsv").write_text(text)
        sweep = read_tasks_file(Path(d) / "t.tsv", None, 10000)
    assert len(sweep.tasks) == 250 and sweep.tasks[-1].params == {"seed": "250", "learning_rate": "0.051"}
    assert len({tuple(t.params.items()) for t in sweep.tasks}) == 250


def test_children_ids_json_lines_and_per_poll():
    from bench.sweeps import child_ids, first_json, per_poll

    assert child_ids("abc", 3) == ["abc:0", "abc:1", "abc:2"]
    assert first_json('note\n{\n  "job_ids": ["j"],\n  "tasks": 2\n}\n') == {"job_ids": ["j"], "tasks": 2}
    assert first_json("no json here") == {}
    assert per_poll({"rounds": 2, "describe_calls": 2}) == 1 and per_poll({"rounds": 0}) is None


def test_sweep_targets_pass_on_one_submit_and_one_describe_per_poll_and_say_why_else():
    ours = Side("batchdeploy, one array job", "x", ours=True, n=10000,
                samples=[Sample(2.0, Counter(SubmitJob=1, PUT=3))])
    loop = Side("one SubmitJob per task (dsub-like)", "y", n=500, scale_to=10000,
                samples=[Sample(10.0, Counter(SubmitJob=500))])
    watcher = Side("batchdeploy SweepWatcher", "z", ours=True,
                   samples=[Sample(0.5, Counter(DescribeJobs=1), extra={"per_poll": 1, "polls": 1})])
    sc11 = Scenario("11", "t", "w", sides=[ours, loop], count_order=("SubmitJob",))
    sc12 = Scenario("12", "t", "w", sides=[watcher])
    got = {t.key: t for t in report.sweep_targets(sc11, sc12)}
    assert got["11a"].measured == "0.01" and got["11a"].verdict == "PASS"  # 2 s against 10 s x 20
    assert got["11b"].verdict == "PASS" and got["12"].verdict == "PASS"
    ours.samples[0] = Sample(5.0, Counter(SubmitJob=2, PUT=3))
    got = {t.key: t for t in report.sweep_targets(sc11, None)}
    assert got["11a"].verdict == "MISS" and "SubmitJob 2" in got["11a"].why
    assert got["11b"].verdict == "MISS" and got["12"].why == "scenario not selected"
