"""Runs the old connector's receiver (fpc.connector.StartConnector) on 127.0.0.1.

Usage: python3 fpc_receiver.py HTTP_PORT SOCKET_PORT

Configures the RECV_SINGLETON as a user would (request_completeness=True, the
default), starts the connector and prints {"event":"listening",...} with the
ports it really bound on stderr. The connector prints every notification body
on stdout; that goes to /dev/null here (the cheapest place it can go). The
connector never stops by itself: bench/run kills the process.
"""
import json
import os
import sys

from fpc import connector
from fpc.connectorconf import RECV_SINGLETON


def main() -> None:
    config = RECV_SINGLETON
    config.http_address = "127.0.0.1"
    config.http_port = int(sys.argv[1])
    config.socket_address = "127.0.0.1"
    config.socket_port = int(sys.argv[2])
    sys.stdout = open(os.devnull, "w")
    connector.StartConnector()
    sys.stderr.write(json.dumps({"event": "listening", "http_port": config.http_port,
                                 "line_port": config.socket_port}) + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    main()
