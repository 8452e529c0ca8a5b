"""`python3 -m batchdeploy.launch ...`: the launcher as the job's command (see the package docstring)."""

import sys

from batchdeploy.launch.main import main

if __name__ == "__main__":
    sys.exit(main())
