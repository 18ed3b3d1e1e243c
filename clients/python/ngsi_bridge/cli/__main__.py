"""`python -m ngsi_bridge.cli` runs ngsi-subscribe."""
import sys

from ngsi_bridge.cli.subscribe import main

sys.exit(main())
