"""`python -m host_tools.sim start|list|stop|power-cut ...` (the same as `edgecall sim ...`)."""
import sys

from host_tools.sim.cli import main

sys.exit(main())
