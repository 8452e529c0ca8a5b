import sys

from batchdeploy.cli import main

sys.exit(main())
