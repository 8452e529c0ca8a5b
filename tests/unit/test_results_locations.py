"""`results RUN_ID`: which locations a run record names, and where each lands (pure)."""

from batchdeploy.sync.results import local_place, locations

RUN = "20261130T161200Z-3fa9c1"


def test_a_sweeps_manifest_outputs_and_output_parameters_are_the_locations_each_once():
    manifest = {"tasks": [
        {"id": 1, "parameters": {"output_path": f"s3://b/results/{RUN}/1/"},
         "outputs": [{"from": "outputs/task/", "to": f"s3://b/results/{RUN}/1/"}]},
        {"id": 2, "outputs": [{"from": "model.pt", "to": "s3://b/models/2.pt"}]},
    ]}
    run = {"parameters": {"output_path": "s3://b/triage", "other": "s3://b/x/"}}
    assert locations(run, [manifest], "output_path", "s3://b/results/R/") == [
        f"s3://b/results/{RUN}/1/", "s3://b/models/2.pt", "s3://b/triage/"]


def test_nothing_recorded_falls_back_to_the_runs_results_folder():
    assert locations({"parameters": {"x": "1"}}, [], "output_path", f"s3://b/results/{RUN}/") == [f"s3://b/results/{RUN}/"]


def test_a_location_under_the_runs_results_keeps_its_path_and_elsewhere_bucket_and_key():
    root = "s3://b/results/"
    assert local_place(f"s3://b/results/{RUN}/3/", root, "/p/results", RUN) == f"/p/results/{RUN}/3"
    assert local_place("s3://b/triage/exp1/", root, "/p/results", RUN) == f"/p/results/{RUN}/b/triage/exp1"
