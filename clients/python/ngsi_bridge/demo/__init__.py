"""Runnable demos of ngsi-bridge (``python3 -m ngsi_bridge.demo.concrete``) and
``stack``, which starts the broker simulator and both services for demos and tests."""
