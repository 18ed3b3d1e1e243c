"""Print every event a receiver gets, resuming by itself after disconnections.

    PYTHONPATH=clients/python python3 clients/python/examples/subscribe.py 127.0.0.1:50051 [--type Room]
"""
import argparse

from ngsi_bridge import EventSubscriber

parser = argparse.ArgumentParser()
parser.add_argument("address", nargs="?", default="127.0.0.1:50051")
parser.add_argument("--start", default="latest", help="latest, earliest or a sequence number")
parser.add_argument("--type", default="", help="only entities of this type")
args = parser.parse_args()

with EventSubscriber(args.address, args.start, entity_type=args.type) as events:
    for event in events.views():
        for entity in event.entities:
            print(event.sequence, entity.id, entity.type, entity.values(), flush=True)
