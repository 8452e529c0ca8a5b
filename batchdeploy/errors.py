"""Exit codes and the errors that carry them.

Every failure a user can cause or meet is one of these; the command layer turns it into one line on
stderr and the exit code. Anything else is a bug and keeps its traceback.
"""

OK = 0
FAILED = 1  # an operation failed: AWS refused, a build failed, a transfer failed
USAGE = 2  # usage or configuration error: the user can fix it and run again
TASKS_FAILED = 3  # everything was submitted and followed, and a job or some of a sweep's tasks failed
UNSCHEDULABLE = 4  # the doctor found that a job can never run as things stand (batchdeploy.doctor)
INTERRUPTED = 130


class BatchdeployError(Exception):
    exit_code = FAILED

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self):
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(BatchdeployError):
    """The user asked for something malformed: bad flags, bad key=val, unknown parameter."""

    exit_code = USAGE


class ConfigError(BatchdeployError):
    """Configuration is missing or malformed; `problems` lists every one at once."""

    exit_code = USAGE

    def __init__(self, message, problems=(), hint=None):
        super().__init__(message, hint)
        self.problems = list(problems)

    def line(self):
        if not self.problems:
            return super().line()
        text = self.message + ": " + "; ".join(self.problems)
        return f"{text}; {self.hint}" if self.hint else text


class OperationError(BatchdeployError):
    """An operation failed that the user did not get wrong: AWS refused, a job failed, a build failed."""

    exit_code = FAILED


class TasksFailed(BatchdeployError):
    """What was submitted ran, and failed: a job (`-r --wait`) or tasks of a sweep. Not AWS refusing
    anything, so a script can tell "fix the experiment" (3) from "fix the setup or retry" (1)."""

    exit_code = TASKS_FAILED


class Unschedulable(BatchdeployError):
    """A job (or a request, at the preflight) can never be placed as things stand: a MISCONFIGURATION
    reason from AWS, no instance type that fits, an INVALID queue or compute environment (exit 4)."""

    exit_code = UNSCHEDULABLE


class Interrupted(BatchdeployError):
    """Ctrl-C (or SIGTERM) stopped an operation part-way; the message says what was left how."""

    exit_code = INTERRUPTED
