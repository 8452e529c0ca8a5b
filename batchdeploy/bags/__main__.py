"""`python -m batchdeploy.bags`: the pegasus-aws-batch entry point."""

import sys

from batchdeploy.bags.pegasus import main

sys.exit(main())
