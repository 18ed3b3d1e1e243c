"""A broker simulator faithful on the wire to FIWARE Orion (NGSIv2) and
Orion-LD (NGSI-LD), for tests and the local demo. Standard library only.

Run it with `scripts/broker-sim --port 0`; see README.md in this folder.
"""
