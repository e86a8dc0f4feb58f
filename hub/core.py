"""The Hub: plugins loaded in isolation, their demos registered, one placement for all models."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import pluggy

from . import hookspecs, weights
from .placement import Device, Placement, detect_devices
from .plugins import PluginRecord, discover, name_list, plugin_version, strict_mode
from .specs import DemoSpec

log = logging.getLogger("hub")


class ModelLoadError(RuntimeError):
    """A demo's model could not be loaded; the message is meant for the user."""


_models_called: ContextVar[list[str] | None] = ContextVar("models_called", default=None)


@contextmanager
def models_called():
    """Collects the placement keys of the models that `ModelHandle.use` hands out inside the block,
    so that recovery from an out-of-memory error acts on the models the action actually used."""
    keys: list[str] = []
    token = _models_called.set(keys)
    try:
        yield keys
    finally:
        _models_called.reset(token)


class ModelHandle:
    """A lazy handle to a demo's model(s): nothing is loaded until `use()` is first entered."""

    def __init__(self, hub: "Hub", demo: DemoSpec):
        self.hub, self.demo = hub, demo

    @contextmanager
    def use(self, name: str | None = None):
        """The model on its device, leased so it is not evicted while the block runs."""
        key = self.demo.model_key(name)
        try:
            module = self.hub.placement.acquire(key)
        except Exception as error:  # noqa: BLE001 - any load failure becomes this demo's error, not the hub's
            self.hub.placement.drop(key)
            message = f"The model of '{self.demo.title}' could not be loaded: {error}"
            self.hub.demo_errors[self.demo.id] = ("load", message)     # the System page's reason
            if self.hub.strict:
                raise
            if not isinstance(error, weights.WeightsError):     # a weights error is written for users
                message = (f"The model of '{self.demo.title}' could not be loaded ({type(error).__name__}); "
                           "the System page says why.")
            raise ModelLoadError(message) from error
        called = _models_called.get()
        if called is not None and key not in called:
            called.append(key)
        if self.hub.demo_errors.get(self.demo.id, ("",))[0] == "load":
            del self.hub.demo_errors[self.demo.id]     # loaded now: an earlier failure is over
        try:
            yield module
        finally:
            self.hub.placement.release(key)

    def device(self, name: str | None = None) -> str:
        return self.hub.placement.status(self.demo.model_key(name))["device"]


class Hub:
    def __init__(self, devices: list[Device] | None = None, pins: dict[str, str] | None = None,
                 strict: bool | None = None):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict_mode() if strict is None else strict
        self.records: dict[str, PluginRecord] = {}
        self.demos: dict[str, DemoSpec] = {}
        self.demo_errors: dict[str, tuple[str, str]] = {}    # demo id -> (stage, message)
        self.placement = Placement(devices if devices is not None else detect_devices, pins, self._choose_device)
        self.started = False
        self.sources: dict = {}         # how `create` found the plugins: another process builds the same hub from it
        self.batching = True            # batched actions share forward passes (False: one request a pass)
        self.batchers: dict = {}        # "<demo>_<action>" -> its MicroBatcher
        self.pass_lanes = None          # a semaphore over every batcher's passes (`batching.pass_lanes`), or None
        self.remote = None              # hub.ray_serve.RemoteDemos when the actions run on Ray Serve

    @classmethod
    def create(cls, plugins_dirs=(), allow=None, deny=None, builtin=True, entry_points=True, **kwargs) -> "Hub":
        """Discover plugins from every source, apply the allow and disable lists, load each in isolation."""
        hub = cls(**kwargs)
        allow = name_list(allow, "DEMO_HUB_PLUGINS")
        deny = name_list(deny, "DEMO_HUB_DISABLE") or set()
        hub.sources = {"plugins_dirs": [str(Path(d).resolve()) for d in plugins_dirs], "allow": allow, "deny": deny,
                       "builtin": builtin, "entry_points": entry_points}
        for candidate in discover([Path(d) for d in plugins_dirs], builtin, entry_points):
            if (allow is not None and candidate.name not in allow) or candidate.name in deny:
                hub.records[candidate.name] = PluginRecord(candidate.name, candidate.source, status="disabled")
                continue
            record = PluginRecord(candidate.name, candidate.source)
            try:
                plugin = candidate.load()
            except (Exception, SystemExit) as error:  # noqa: BLE001 - a plugin's import must not end the hub
                hub._failed(record, "import", error)
                continue
            hub.add_plugin(plugin, record)
        return hub

    def _failed(self, record: PluginRecord, stage: str, error: BaseException) -> None:
        record.fail(stage, error)
        self.records[record.name] = record
        log.error("plugin %s failed at %s: %s", record.name, stage, record.error)
        if self.strict:
            raise RuntimeError(f"plugin {record.name!r} failed at {stage} ({record.error}); "
                               f"strict mode ($DEMO_HUB_STRICT) makes this fatal") from error

    def add_plugin(self, plugin: object, record: PluginRecord | str) -> PluginRecord:
        """Register one plugin object (module or instance) and its demos. A plugin added after the
        hub started also receives `hub_started`."""
        if isinstance(record, str):
            record = PluginRecord(record, "added")
        if record.name in self.records and self.records[record.name].status == "ok":
            first = self.records[record.name]
            record.name = f"{record.name} ({record.source})"      # keep the first one's record
            self._failed(record, "register", ValueError(f"a plugin named {first.name!r} is already loaded "
                                                        f"from {first.source}"))
            return record
        record.module, record.version = plugin, plugin_version(plugin, record)
        self.records[record.name] = record
        pending: list[DemoSpec] = []

        def register(spec: DemoSpec) -> None:
            spec.validate()
            if spec.id in self.demos or spec.id in {p.id for p in pending}:
                raise ValueError(f"demo id {spec.id!r} is already registered")
            spec.plugin, spec.version = record.name, spec.version or record.version
            pending.append(spec)

        try:
            self.pm.register(plugin, name=record.name)
            self._call(record, "register_demos", register=register)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - a plugin's registration must not end the hub
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._failed(record, "register", error)
            return record
        for spec in pending:
            self.demos[spec.id] = spec
            record.demos.append(spec.id)
            for model in spec.models:
                self.placement.add(spec.model_key(model.name), model.load, model.estimated_bytes or 0)
        if self.started:
            self._start_plugin(record)
        return record

    def _call(self, record: PluginRecord, hook: str, **kwargs):
        """Call one plugin's implementation of a hook, and only that plugin's."""
        results = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin is record.module:
                results.append(impl.function(**{arg: kwargs[arg] for arg in impl.argnames}))
        return results

    def start(self) -> None:
        """Tell every plugin that the hub is up (hub_started)."""
        self.started = True
        for record in list(self.records.values()):
            if record.status == "ok":
                self._start_plugin(record)

    def _start_plugin(self, record: PluginRecord) -> None:
        try:
            self._call(record, "hub_started", hub=self)
        except (Exception, SystemExit) as error:  # noqa: BLE001
            self._failed(record, "hub_started", error)

    def commands(self) -> dict[str, tuple]:
        """name -> (run, help, configure) for every command a plugin adds (register_commands); a plugin
        that fails here is marked failed and adds none."""
        found: dict[str, tuple] = {}
        for record in list(self.records.values()):
            if record.status != "ok":
                continue
            added: dict[str, tuple] = {}

            def register(name: str, run, help: str = "", configure=None, added=added) -> None:
                added.setdefault(name, (run, help, configure))

            try:
                self._call(record, "register_commands", register=register)
            except (Exception, SystemExit) as error:  # noqa: BLE001
                self._failed(record, "register_commands", error)
                continue
            for name, command in added.items():
                found.setdefault(name, command)
        return found

    def _choose_device(self, key: str, size: int, devices: list[str]) -> str | None:
        demo_id, _, model = key.partition("/")
        demo = self.demos.get(demo_id)
        model = model or (demo.models[0].name if demo and demo.models else "")
        try:
            return self.pm.hook.choose_device(demo_id=demo_id, model_name=model, estimated_bytes=size,
                                              devices=devices)
        except Exception as error:  # noqa: BLE001 - a bad override falls back to best fit
            log.error("choose_device hook failed for %s: %s", key, error)
            return None

    def handle(self, demo_id: str) -> ModelHandle:
        return ModelHandle(self, self.demos[demo_id])

    def demo_status(self, demo_id: str) -> tuple[str, str]:
        if demo_id in self.demo_errors:
            stage, message = self.demo_errors[demo_id]
            return "error", f"{stage}: {message}"
        demo = self.demos[demo_id]
        if not demo.trained:
            missing = [weights.shown(m.weights_dir) for m in demo.models
                       if m.weights_dir is not None and not (m.weights_dir / weights.CONFIG_FILE).is_file()]
            how = f"python -m hub train {demo_id}" if demo.train else "this demo has no train command"
            return "untrained", f"no config.json in {', '.join(missing)} ({how})"
        return "ok", ""

    def system_rows(self) -> list[list]:
        """One row per demo (and per plugin without demos) for the System page and `hub list`."""
        rows = []
        for record in self.records.values():
            if not record.demos:
                reason = f"{record.stage}: {record.error}" if record.error else ""
                rows.append([record.name, record.source, record.version, "", "", record.status, reason,
                             "", 0, 0, "", False])
            for demo_id in record.demos:
                demo = self.demos[demo_id]
                status, reason = self.demo_status(demo_id)
                for model in demo.models or [None]:
                    info = self.placement.status(demo.model_key(model.name)) if model else {}
                    rows.append([record.name, record.source, demo.version or "", demo_id, model.name if model else "",
                                 status, reason,
                                 info.get("device", "-"), info.get("estimated_bytes", 0),
                                 info.get("loaded_bytes", 0), weights_sha(model), info.get("loaded", False)])
        return rows


SYSTEM_COLUMNS = ["plugin", "source", "version", "demo", "model", "status", "reason", "device",
                  "estimated bytes", "loaded bytes", "weights sha256", "loaded now"]


def weights_sha(model) -> str:
    if model is None or model.weights_dir is None:
        return ""
    try:
        return str(weights.read_config(model.weights_dir).get("sha256", ""))[:16]
    except weights.WeightsError:
        return "missing"
