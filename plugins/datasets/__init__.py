"""`python -m hub data`: which data sets the hub finds and where it looks; `python -m hub data download
[NAME...]` fetches them from their canonical sources (or a mirror), each file checked by its SHA-256."""
from pathlib import Path

from hub import hookimpl

__version__ = "1.0.0"


@hookimpl
def register_commands(register):
    register("data", show_or_download, help="list the data sets (present, missing, where the hub looks); "
             "'data download [NAME...]' fetches them", configure=add_arguments)


def add_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="action")
    fetch = actions.add_parser("download", help="fetch data sets (all when none is named), checking every "
                               "file's SHA-256")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="data sets to fetch (default: all)")
    fetch.add_argument("--into", type=Path, help="the data folder to fill (default: $DEMO_HUB_DATA, else "
                       "../shared/data beside the project)")
    fetch.add_argument("--source", action="append", default=[], metavar="NAME=URL",
                       help="fetch data set NAME's original files from URL instead of its canonical source")
    fetch.add_argument("--mirror", metavar="URL", help="fetch the hub's own layout (URL/NAME/FILE) from a mirror")


def show_or_download(args) -> int:
    from hub.kit import data, download

    if args.action != "download":
        return show(data, download)
    sources = dict(item.split("=", 1) for item in args.source if "=" in item)
    bad = [item for item in args.source if "=" not in item]
    if bad:
        raise SystemExit(f"error: --source takes NAME=URL, not {bad[0]!r}")
    root = args.into or download.default_root()
    try:
        for name in download.in_order(args.names or list(download.RECIPES)):
            written = download.download(name, root, sources=sources, mirror=args.mirror)
            print(f"{name:<16} {'fetched ' + ', '.join(written) if written else 'already there'}  ({root / name})")
    except (KeyError, download.DownloadError) as error:
        raise SystemExit(f"error: {error.args[0]}")
    return 0


def show(data, download) -> int:
    print("The hub looks for data in: " + "; ".join(str(root) for root in data.candidate_roots())
          + f"  (set ${data.ENV_VAR} to look elsewhere first)")
    missing = []
    for name, state, folder in download.status():
        print(f"{name:<16} {state:<8} {folder or ''}")
        if state != "ok":
            missing.append(name)
    if missing:
        print(f"Fetch them with: python -m hub data download {' '.join(missing)}")
    return 0
