"""The architecture, kept: plugins import only the declared surface, `hub/` has no import cycle and
knows no plugin, and listing the demos stays cheap."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import hub
import hub.kit

ROOT = Path(__file__).resolve().parent.parent
SURFACE = {"hub": set(hub.__all__), "hub.kit": set(hub.kit.__all__)}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) for every import in a file, at any depth."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.append((base, [alias.name for alias in node.names], node.lineno))
    return found


@pytest.mark.parametrize("module", ["hub", "hub.kit"])
def test_every_name_of_the_surface_exists_and_says_what_it_is_in_one_line(module):
    package = sys.modules[module]
    undocumented = [name for name in package.__all__
                    if not (getattr(package, name).__doc__ or "").strip().splitlines()[:1]]
    assert not undocumented


def test_plugins_import_only_the_declared_surface_and_never_each_other():
    offences = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        own = module_name(path).split(".")[:2]
        for module, names, line in imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module.split(".")[0] == "plugins" and module.split(".")[:2] != own:
                offences.append(f"{where} imports another plugin: {module}")
            elif module.split(".")[0] == "hub":
                outside = [n for n in names if n not in SURFACE.get(module, set())] if names else [module]
                if module not in SURFACE or outside:
                    offences.append(f"{where} from {module} import {', '.join(outside or names)}")
    assert not offences, "imports outside hub.__all__ / hub.kit.__all__:\n" + "\n".join(offences)


def hub_import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in (ROOT / "hub").rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for module, names, _ in imports(path):
            if module in modules:
                subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
                targets |= set(subs) if subs else {module}
        graph[name] = targets - {name}
    return graph


def test_no_import_cycle_inside_hub():
    graph, state, cycles = hub_import_graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles


def test_the_framework_imports_neither_the_kit_nor_any_plugin():
    framework = [path for path in (ROOT / "hub").glob("*.py")]
    offences = [f"{path.name}: {module}" for path in framework for module, _, _ in imports(path)
                if module.startswith(("hub.kit", "plugins"))]
    assert not offences


def test_listing_the_demos_imports_no_torch_and_no_gradio():
    script = ("import sys; from hub.cli import main; main(['list']); "
              "print('HEAVY', sorted(m for m in ('torch', 'gradio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=True).stdout
    assert "vae " in out and "gan " in out          # it did list the demos
    assert out.strip().splitlines()[-1] == "HEAVY []"
