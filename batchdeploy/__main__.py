import os
import sys

from batchdeploy.cli import main

code = main()
# Skip the interpreter's teardown (60-140 ms with boto3 loaded, measured on a no-change sync): every
# file batchdeploy writes is closed by then, so only the standard streams need flushing.
try:
    sys.stdout.flush()
    sys.stderr.flush()
except (BrokenPipeError, ValueError):
    code = code or 1
os._exit(code)
