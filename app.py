"""Start the Demo Hub: `python app.py [--share] [--auth USER:PASS] [--device vae=cuda:1] ...`."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from hub.cli import add_plugin_flags, hub_from_args
from hub.launcher import parse_pins


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Demo Hub: classic deep-learning models as live demos.")
    parser.add_argument("--host", default=os.environ.get("DEMO_HUB_HOST", "127.0.0.1"),
                        help="address to listen on (0.0.0.0 for the local network)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_HUB_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="also open a public Gradio link")
    parser.add_argument("--auth", metavar="USER:PASS", help="require this login")
    parser.add_argument("--device", action="append", default=[], metavar="[DEMO=]DEVICE",
                        help="pin a demo (vae=cuda:1) or every demo (cpu) to a device; repeatable")
    add_plugin_flags(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    auth = None
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            sys.exit("--auth takes USER:PASS")
        auth = (user, password)
    if args.share and not auth:
        logging.warning("--share without --auth: anyone with the public link can use this hub "
                        "(and its compute). Add --auth USER:PASS to require a login.")
    try:
        pins = parse_pins(args.device)
    except ValueError as error:
        sys.exit(str(error))

    from hub.ui import build_app   # gradio is imported only once the arguments are good

    hub = hub_from_args(args, pins=pins)
    app = build_app(hub)
    app.queue(default_concurrency_limit=2)
    app.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth, show_error=True)


if __name__ == "__main__":
    main()
