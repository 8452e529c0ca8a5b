from batchdeploy.jobs.run import with_emulator_endpoint


class Notes:
    def __init__(self):
        self.lines = []

    def note(self, text):
        self.lines.append(text)


def test_on_aws_nothing_is_added():
    notes = Notes()
    assert with_emulator_endpoint({"environment": [{"name": "A", "value": "1"}]}, None, notes) == {
        "environment": [{"name": "A", "value": "1"}]
    }
    assert notes.lines == []


def test_against_an_emulator_the_job_gets_the_same_endpoint():
    notes = Notes()
    got = with_emulator_endpoint({}, "http://127.0.0.1:5000", notes)
    assert got == {"environment": [{"name": "AWS_ENDPOINT_URL", "value": "http://127.0.0.1:5000"}]}
    assert "passed to the job" in notes.lines[0]


def test_the_users_own_setting_wins():
    mine = {"environment": [{"name": "AWS_ENDPOINT_URL", "value": "http://other:1"}]}
    assert with_emulator_endpoint(mine, "http://127.0.0.1:5000", Notes()) == mine
