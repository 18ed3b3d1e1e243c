"""`python3 -m tests.testing.broker_sim` runs the simulator (server.main)."""
import sys

from tests.testing.broker_sim.server import main

sys.exit(main())
