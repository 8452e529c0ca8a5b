from batchdeploy.aws import shapes


def test_valid_request_has_no_problems():
    params = {
        "jobDefinitionName": "x",
        "type": "container",
        "containerProperties": {"image": "i", "resourceRequirements": [{"type": "VCPU", "value": "1"}]},
    }
    assert shapes.request("batch", "RegisterJobDefinition", params) == []


def test_every_problem_is_reported_with_its_json_path():
    params = {
        "type": "kontainer",
        "containerProperties": {
            "image": 7,
            "resourceRequirements": [{"type": "VCPU", "value": 1}],
            "privileged": "yes",
            "bogus": 1,
        },
        "timeout": {"attemptDurationSeconds": "60"},
    }
    problems = shapes.request("batch", "RegisterJobDefinition", params)
    assert "jobDefinitionName: required but missing" in problems
    assert any(p.startswith("type: 'kontainer' is not one of") for p in problems)
    assert "containerProperties.image: expected a string, got a number" in problems
    assert "containerProperties.resourceRequirements[0].value: expected a string, got a number" in problems
    assert "containerProperties.privileged: expected true or false, got a string" in problems
    assert any(p.startswith("containerProperties.bogus: unknown field") for p in problems)
    assert "timeout.attemptDurationSeconds: expected an integer, got a string" in problems


def test_maps_and_lists_are_checked():
    problems = shapes.request("batch", "SubmitJob", {"jobName": "j", "jobQueue": "q", "jobDefinition": "d",
                                                       "parameters": {"a": 1}, "dependsOn": {}})
    assert "parameters.a: expected a string, got a number" in problems
    assert "dependsOn: expected an array, got an object" in problems
