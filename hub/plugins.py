"""Finding and loading plugins, each in isolation.

Three sources: the built-in plugins/ folder, any --plugins-dir DIR of dropped-in .py modules or
packages, and installed packages that declare an entry point in the group "demo_hub".
A plugin is named by its module (file or folder) name, or by its entry-point name.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
BUILTIN_DIR = ROOT / "plugins"
ENTRY_POINT_GROUP = "demo_hub"
ALLOW_ENV, DISABLE_ENV, STRICT_ENV = "DEMO_HUB_PLUGINS", "DEMO_HUB_DISABLE", "DEMO_HUB_STRICT"


@dataclass
class Candidate:
    name: str
    source: str                      # "builtin", "dir:<path>", "entry-point:<dist>"
    load: Callable[[], object]       # imports and returns the plugin object


@dataclass
class PluginRecord:
    """A plugin as the System page shows it."""
    name: str
    source: str
    status: str = "ok"               # ok | error | disabled
    stage: str = ""                  # where it failed: import, register, build_ui, ...
    error: str = ""
    version: str = ""
    demos: list[str] = field(default_factory=list)
    module: object = None

    def fail(self, stage: str, error: BaseException) -> None:
        self.status, self.stage = "error", stage
        self.error = f"{type(error).__name__}: {error}"
        self.traceback = traceback.format_exc()


def strict_mode() -> bool:
    return os.environ.get(STRICT_ENV, "").lower() in ("1", "true", "yes")


def name_list(value: str | list[str] | None, env: str) -> set[str] | None:
    """Plugin names from a flag ("a,b" or a list), else from the environment variable; None when neither."""
    if value is None:
        value = os.environ.get(env) or None
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    return {item.strip() for item in items if item.strip()}


def import_from_path(name: str, path: Path) -> ModuleType:
    """Import a dropped-in module file or package folder under a private module name."""
    module_name = f"demo_hub_plugins.{name}"
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(module_name, path / "__init__.py",
                                                      submodule_search_locations=[str(path)])
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def import_builtin(name: str) -> ModuleType:
    """A built-in plugin under its own name, `plugins.<name>`: the one module that tests, `hub train`
    and the app all use (a second copy under another name would hold state of its own)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"{BUILTIN_DIR.name}.{name}")


def folder_candidates(folder: Path, source: str, load: Callable[[str, Path], ModuleType] = import_from_path
                      ) -> list[Candidate]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"plugins folder {folder} does not exist")
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.is_file() and path.suffix == ".py":
            name = path.stem
        elif path.is_dir() and (path / "__init__.py").is_file():
            name = path.name
        else:
            continue
        found.append(Candidate(name, source, lambda name=name, path=path: load(name, path)))
    return found


def entry_point_candidates() -> list[Candidate]:
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", "?")
        found.append(Candidate(ep.name, f"entry-point:{dist}", ep.load))
    return found


def discover(plugins_dirs: list[Path] = (), builtin: bool = True, entry_points: bool = True) -> list[Candidate]:
    candidates = []
    if builtin and BUILTIN_DIR.is_dir():
        candidates += folder_candidates(BUILTIN_DIR, "builtin", lambda name, path: import_builtin(name))
    for folder in plugins_dirs:
        candidates += folder_candidates(Path(folder), f"dir:{folder}")
    if entry_points:
        candidates += entry_point_candidates()
    return candidates


def plugin_version(plugin: object, record: PluginRecord) -> str:
    version = getattr(plugin, "__version__", None)
    if version:
        return str(version)
    if record.source.startswith("entry-point:"):
        try:
            return metadata.version(record.source.split(":", 1)[1])
        except metadata.PackageNotFoundError:
            pass
    return ""
