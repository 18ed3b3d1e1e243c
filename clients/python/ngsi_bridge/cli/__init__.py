"""Command-line tools of the ngsi_bridge package (console scripts)."""
