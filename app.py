"""Start the Demo Hub: `python app.py [--share] [--auth USER:PASS] [--device vae=cuda:1] ...`."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from hub.batching import pass_lanes
from hub.cli import add_plugin_flags, hub_from_args
from hub.placement import parse_pins, parse_size

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Gradio's threads for event functions (its default is 40): a request waiting for its batch holds one, and up to
# 16 wait at each batched action, so the other demos' requests would otherwise find none free.
WORKER_THREADS = 200
# Gradio's own setting: after how many events its queue rebuilds the summary behind its monitoring page.
QUEUE_SUMMARY_EVERY = "GRADIO_ANALYTICS_CACHE_FREQUENCY"


def parse_args(argv=None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Demo Hub: classic deep-learning models as live demos.")
    parser.add_argument("--host", default=os.environ.get("DEMO_HUB_HOST", "127.0.0.1"),
                        help="address to listen on (0.0.0.0 for the local network)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_HUB_PORT", 7860)),
                        help="the port to serve on (default 7860, or $DEMO_HUB_PORT)")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio link")
    parser.add_argument("--auth", metavar="USER:PASS", help="require this login")
    parser.add_argument("--max-file-size", default="5mb", metavar="SIZE",
                        help="largest upload accepted, e.g. 5mb (a digit is a few kilobytes)")
    parser.add_argument("--cache-ttl", type=int, default=3600, metavar="SECONDS",
                        help="uploads and generated files older than this are deleted (checked as often)")
    parser.add_argument("--max-sessions", type=int, default=200, metavar="N",
                        help="sessions whose state Gradio keeps in memory (about 0.8 MB each); the oldest go first")
    parser.add_argument("--device", action="append", default=[], metavar="[DEMO=]DEVICE",
                        help="pin a demo (vae=cuda:1) or every demo (cpu) to a device; repeatable")
    parser.add_argument("--no-batching", action="store_true",
                        help="serve each request in its own forward pass (to measure what batching buys)")
    parser.add_argument("--passes-at-once", type=int, default=0, metavar="N",
                        help="forward passes run at once over all demos (0: one per action, no limit over them)")
    parser.add_argument("--ray", action="store_true",
                        help="run every demo on Ray Serve (a local Ray instance unless --ray-address is given)")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help="the Ray cluster to serve on, e.g. 10.0.0.1:6379 (implies --ray)")
    parser.add_argument("--ray-config", metavar="FILE",
                        help="replicas, autoscaling and resources per demo (TOML; defaults in hub/ray_serve.toml)")
    add_plugin_flags(parser)
    return parser


def exposure_warnings(args, auth) -> list[str]:
    """What to tell whoever starts a hub that others can reach without a login."""
    warnings = []
    if args.share and not auth:
        warnings.append("--share without --auth: anyone with the public link can use this hub "
                        "(and its compute). Add --auth USER:PASS to require a login.")
    if args.host not in LOOPBACK and not auth:
        warnings.append(f"--host {args.host} without --auth: anyone who can reach this machine can use this hub "
                        "(and its compute). Add --auth USER:PASS to require a login.")
    return warnings


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
    for warning in exposure_warnings(args, auth):
        logging.warning(warning)
    if args.cache_ttl < 1 or args.max_sessions < 1:
        sys.exit("--cache-ttl and --max-sessions take a whole number, at least 1")
    try:
        max_file_size = parse_size(args.max_file_size)
    except ValueError as error:
        sys.exit(f"--max-file-size: {error}")
    try:
        pins = parse_pins(args.device)
    except ValueError as error:
        sys.exit(str(error))

    from hub.ui import PAGE_CSS, PAGE_JS, build_app   # gradio is imported only once the arguments are good

    hub = hub_from_args(args, pins=pins)
    hub.batching = not args.no_batching
    hub.pass_lanes = pass_lanes(args.passes_at_once)
    if args.ray or args.ray_address:
        serve_on_ray(hub, args)
    app = build_app(hub, cache_ttl=args.cache_ttl)
    put_off_queue_summary()
    app.queue(default_concurrency_limit=2)
    # show_error=False: the hub's own messages (gr.Error) still reach the user; Gradio's internal ones
    # (handler names, component lists, server paths) stay in the log. quiet=True: the banner below names
    # the hub's own flags, where Gradio's would name launch()'s.
    app.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth, show_error=False,
               max_file_size=max_file_size, state_session_capacity=args.max_sessions,
               quiet=True, prevent_thread_lock=True, js=PAGE_JS, css=PAGE_CSS, max_threads=WORKER_THREADS)
    print(banner(app.local_url, app.share_url), flush=True)
    app.block_thread()


def put_off_queue_summary() -> None:
    """Gradio's queue rebuilds a pandas summary of its last 10,000 events after every event, for a monitoring
    page this hub does not open: 2.6 ms of CPU an event after 2,400 events, 6.8 ms after 10,000
    (`bench/queue_summary.py`), a tenth of the server's time under a crowd of 16 (sampled with py-spy). Read
    when the queue is made; a value already in the environment is kept."""
    os.environ.setdefault(QUEUE_SUMMARY_EVERY, str(10 ** 9))


def serve_on_ray(hub, args) -> None:
    """Deploy every demo that has its weights on Ray Serve; the app built next calls them there."""
    from hub.ray_serve import deploy, load_settings

    try:
        settings = load_settings(args.ray_config)
    except (OSError, ValueError) as error:
        sys.exit(f"--ray-config: {error}")
    demos = [demo.id for demo in hub.demos.values() if demo.trained]
    logging.info("Deploying %d demos on Ray Serve; the first start of each replica takes a while", len(demos))
    deploy(hub, demos, settings, args.ray_address)


def banner(local_url: str, share_url: str | None) -> str:
    lines = [f"Demo Hub running on {local_url}"]
    if share_url:
        lines.append(f"Public link (anyone with it can use this hub): {share_url}")
    else:
        lines.append("To share it with a class, start it with --share (and --auth USER:PASS) for a public link.")
    return "\n".join(lines + ["Stop it with Ctrl+C."])


if __name__ == "__main__":
    main()
