"""--write-env: .aws_env edits."""

from __future__ import annotations

import os

from batchdeploy.infra import envfile

# --- .aws_env ----------------------------------------------------------------------------------


def test_env_edit_keeps_comments_order_and_other_lines():
    text = "# settings\nPROJECT_NAME=demo\nexport S3_BUCKET=old # results\r\n# AWS_JOB_QUEUE=commented\nX='a # b'  # c\n"
    new = envfile.edit_env_text(text, {"S3_BUCKET": "new-b", "AWS_JOB_QUEUE": "q", "X": "y"}, "written by test")
    assert new == (
        "# settings\nPROJECT_NAME=demo\nexport S3_BUCKET=new-b # results\r\n# AWS_JOB_QUEUE=commented\nX=y  # c\n"
        "# written by test\nAWS_JOB_QUEUE=q\n"
    )
    assert envfile.edit_env_text("A=1", {"B": "2"}) == "A=1\nB=2\n"
    assert envfile.edit_env_text("", {"B": "2"}) == "B=2\n"


def test_write_env_is_atomic_keeps_the_mode_and_follows_a_symlink(tmp_path):
    real = tmp_path / "real.env"
    real.write_text("A=1\n")
    os.chmod(real, 0o640)
    link = tmp_path / ".aws_env"
    link.symlink_to(real)
    envfile.write_env(link, {"A": "2"})
    assert link.is_symlink() and real.read_text() == "A=2\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".real")] == []
    fresh = envfile.write_env(tmp_path / "new.env", {"A": "1"})
    assert fresh.stat().st_mode & 0o777 == 0o600
