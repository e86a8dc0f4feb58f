"""`python -m hub list|train|evaluate|thumbnails`: the same commands for every plugin, and any a plugin adds."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import weights
from .core import SYSTEM_COLUMNS, Hub


def add_plugin_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugins", help="only these plugins, comma-separated (or $DEMO_HUB_PLUGINS)")
    parser.add_argument("--disable", help="skip these plugins, comma-separated (or $DEMO_HUB_DISABLE)")
    parser.add_argument("--plugins-dir", action="append", default=[], metavar="DIR",
                        help="a folder of dropped-in plugin modules or packages (repeatable)")


def hub_from_args(args, **kwargs) -> Hub:
    try:
        return Hub.create(plugins_dirs=args.plugins_dir, allow=args.plugins, deny=args.disable, **kwargs)
    except FileNotFoundError as error:          # a --plugins-dir that does not exist
        sys.exit(f"error: {error}")


def demo_or_exit(args, capability: str):
    """(hub, demo) for args.demo, or exit with a message if it is unknown or lacks `capability`."""
    hub = hub_from_args(args)
    if args.demo not in hub.demos:
        known = ", ".join(sorted(hub.demos)) or "none"
        sys.exit(f"no demo {args.demo!r}; known demos: {known}")
    demo = hub.demos[args.demo]
    if getattr(demo, capability) is None:
        sys.exit(f"demo {demo.id!r} has no {capability} command")
    return hub, demo


def cmd_list(args) -> int:
    hub = hub_from_args(args)
    if args.check:                      # build every demo's interface apart: a failure becomes its status
        from .ui import build_demo_blocks

        for demo in hub.demos.values():
            if demo.trained:
                build_demo_blocks(hub, demo)
    rows = [dict(zip(SYSTEM_COLUMNS, row)) for row in hub.system_rows()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        what = (f"{row['demo']}/{row['model']}" if row["model"] and row["model"] != row["demo"] else row["demo"]) \
            or "(no demo)"
        reason = f"  {row['reason']}" if row["reason"] else ""
        print(f"{what:<18} {row['status']:<9} plugin={row['plugin']:<12} {row['estimated bytes']:>10,} B"
              f"  {row['source']}{reason}")
    return 0


def cmd_train(args) -> int:
    _, demo = demo_or_exit(args, "train")
    out = Path(args.out) if args.out else weights.weights_dir(demo.id)
    start = {"init": Path(args.init)} if args.init else {}
    try:
        metrics = demo.train(out, epochs=args.epochs, seed=args.seed, limit=args.limit, **start)
    except TypeError as e:
        if start and "'init'" in str(e):
            sys.exit(f"{demo.id}'s training always starts from scratch: it cannot go on from --init {args.init}")
        raise
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_evaluate(args) -> int:
    hub, demo = demo_or_exit(args, "evaluate")
    handle = hub.handle(demo.id)
    if len(demo.models) == 1:
        with handle.use() as model:
            metrics = demo.evaluate(model, limit=args.limit)
    else:
        metrics = demo.evaluate(handle, limit=args.limit)
    if args.json:
        print(json.dumps(metrics))
    else:
        for name, value in metrics.items():
            print(f"{name:<24} {value}")
    return 0


def cmd_thumbnails(args) -> int:
    from . import gallery
    from .ui import DemoContext

    hub = hub_from_args(args)
    unknown = sorted(set(args.demos) - set(hub.demos))
    if unknown:
        sys.exit(f"no demo {', '.join(unknown)}; known demos: {', '.join(sorted(hub.demos))}")
    for demo_id, made in gallery.write_thumbnails(hub, DemoContext, args.demos or None).items():
        print(f"{demo_id:<18} {made}")
    return 0


def add_plugin_commands(commands) -> None:
    """The commands of the built-in and installed plugins (`register_commands`), after the hub's own.
    A plugin that fails here is reported by the command that runs next, not twice."""
    hub_log = logging.getLogger("hub")
    level = hub_log.level
    hub_log.setLevel(logging.CRITICAL)
    try:
        found = Hub.create(strict=False).commands()
    finally:
        hub_log.setLevel(level)
    for name, (run, help, configure) in found.items():
        if name in commands.choices:
            continue
        sub = commands.add_parser(name, help=help, description=help)
        if configure is not None:
            configure(sub)
        sub.set_defaults(run=run)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m hub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("list", help="print every plugin and demo with its status")
    p.add_argument("--json", action="store_true")
    p.add_argument("--check", action="store_true",
                   help="also build every demo's interface (imports its code: slower) and report failures")
    p.set_defaults(run=cmd_list)
    p = commands.add_parser("train", help="train DEMO and write weights/DEMO/ with its model card")
    p.add_argument("demo")
    p.add_argument("--epochs", type=int, help="override the demo's default number of epochs")
    p.add_argument("--seed", type=int, help="override the demo's fixed seed")
    p.add_argument("--out", help="write here instead of weights/DEMO/")
    p.add_argument("--limit", type=int, help="measure on N test examples only (a smoke run)")
    p.add_argument("--init", help="go on from the weights in this folder (an earlier run of DEMO) instead of from "
                   "scratch, where DEMO's training offers it")
    p.set_defaults(run=cmd_train)
    p = commands.add_parser("evaluate", help="print DEMO's metrics on the test split")
    p.add_argument("demo")
    p.add_argument("--limit", type=int, help="only N test examples (the demo picks a representative subset)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_evaluate)
    p = commands.add_parser("thumbnails", help="make the gallery's thumbnails, weights/gallery/DEMO.png, from each "
                            "demo's own output")
    p.add_argument("demos", nargs="*", help="only these demos (default: every trained one)")
    p.set_defaults(run=cmd_thumbnails)
    for sub in commands.choices.values():
        add_plugin_flags(sub)
    add_plugin_commands(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except FileNotFoundError as error:        # a data set or a file is missing: say which, in one line
        sys.exit(f"error: {error}")
