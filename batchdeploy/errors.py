"""Exit codes and the errors that carry them.

Every failure a user can cause or meet is one of these; the command layer turns it into one line on
stderr and the exit code. Anything else is a bug and keeps its traceback.
"""

OK = 0
FAILED = 1  # an operation failed: AWS refused, a job failed, a build failed
USAGE = 2  # usage or configuration error: the user can fix it and run again
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


class Interrupted(BatchdeployError):
    """Ctrl-C (or SIGTERM) stopped an operation part-way; the message says what was left how."""

    exit_code = INTERRUPTED
