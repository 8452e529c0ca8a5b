"""The child side of `batchdeploy.userprog`: one user jq program, run under limits, in its own process.

Run as a script (`python -I -S userprog_child.py SITE_DIR`), never imported by batchdeploy: it needs
only the standard library and the jq bindings (found in SITE_DIR). Everything arrives on stdin, so no
secret is ever on a command line: a first line (the program and the limits), then, once it has
compiled, a second (the document; end of input instead means there is nothing to run). Answers go to
stdout, one JSON object per line:

    {"compiled": true} | {"error": MESSAGE, "stage": "compile"}
    {"value": V} ...   then {"done": true} | {"error": MESSAGE, "stage": "run"} | {"memory": true}

jq's messages may quote the document; the parent decides what may be shown.
"""

import json
import resource
import signal
import sys


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    # The parent's wall-time limit is the one that counts; the CPU limit ends a child the parent can
    # no longer stop (killed with SIGKILL), and the address-space limit makes a growing jq abort.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def _say(obj) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it at once, even inside jq's C loop
    sys.path.insert(0, sys.argv[1])
    request = json.loads(sys.stdin.buffer.readline())
    _limit(int(request["memory_bytes"]), int(request["cpu_seconds"]))
    try:
        import jq

        program = jq.compile(request["program"])
    except MemoryError:
        _say({"memory": True})
        return 0
    except ValueError as exc:
        _say({"error": str(exc), "stage": "compile"})
        return 0
    _say({"compiled": True})
    sys.stdout.flush()
    line = sys.stdin.buffer.readline()
    if not line:
        return 0
    try:
        for value in program.input_value(json.loads(line)["document"]):
            _say({"value": value})
    except MemoryError:
        _say({"memory": True})
        return 0
    except RecursionError:  # json.dumps of an output nested beyond Python's stack
        _say({"error": "an output is nested too deeply", "stage": "run"})
        return 0
    except ValueError as exc:
        _say({"error": str(exc), "stage": "run"})
        return 0
    _say({"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
