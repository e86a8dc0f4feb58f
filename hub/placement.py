"""Shared device placement: every demo's model goes where it fits, lazily, on its first request.

- Best fit with headroom: the GPU whose free memory (less a headroom share) is left smallest.
- Eviction when no GPU has room: models not in use (no lease) are parked in CPU memory, or dropped
  when that is full, chosen by Greedy-Dual-Size-Frequency (Cherkasova 1998):
      priority = L + hits * reload_cost / size,
  lowest first, where L rises to the priority of each evicted model (ageing). A model that is used
  often, or costs much to reload for its size, stays; recency alone decides nothing.
- Fallback to the CPU when nothing fits; a CUDA out-of-memory error evicts and retries once, then
  uses the CPU. Pins (`--device vae=cuda:1`, `--device cpu`) override the choice.

The inventory is injectable (`parse_inventory("24G,24G,12G,8G")`), so placement runs without a GPU.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("hub.placement")

DISK_BYTES_PER_S = 500e6      # for a reload-cost estimate before a load was timed
LOAD_OVERHEAD_S = 0.2         # building the module, reading the config
CONCURRENCY = {"cuda": 2, "cpu": 2}   # jobs at once per device queue


@dataclass
class Device:
    name: str                  # "cuda:0", "cpu"
    total: int                 # bytes
    free: int | None = None    # bytes free when the hub started (defaults to total)

    def __post_init__(self):
        if self.free is None:
            self.free = self.total

    @property
    def kind(self) -> str:
        return self.name.split(":")[0]


@dataclass
class Slot:
    """The placement's record of one model: where it is, how big, how used."""
    key: str
    load: Callable[[], Any]
    size: int                          # estimated bytes until loaded, then measured
    estimated: int
    module: Any = None
    device: str | None = None
    leases: int = 0
    hits: int = 0
    priority: float = 0.0
    load_seconds: float = 0.0
    loaded_bytes: int = 0
    note: str = ""                     # why it is where it is, when that is not plain best fit

    @property
    def reload_cost(self) -> float:
        return max(self.load_seconds, LOAD_OVERHEAD_S + self.size / DISK_BYTES_PER_S)


@dataclass
class Stats:
    loads: int = 0
    evictions: int = 0
    drops: int = 0
    bytes_moved: int = 0
    cpu_fallbacks: int = 0
    oom_retries: int = 0
    moves: list = field(default_factory=list)   # (key, from, to) for tests and the bench


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)i?B?\s*", text, re.I)
    if not m:
        raise ValueError(f"not a size: {text!r} (try 24G, 512M)")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " "))


def parse_inventory(text: str, cpu: str = "64G") -> list[Device]:
    """Simulated devices: "24G,24G,12G,8G" -> cuda:0..3 plus a CPU."""
    gpus = [Device(f"cuda:{i}", parse_size(s)) for i, s in enumerate(text.split(",")) if s.strip()]
    return gpus + [Device("cpu", parse_size(cpu))]


def detect_devices() -> list[Device]:
    """Each CUDA GPU with its free and total memory, then the CPU."""
    import torch
    devices = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            devices.append(Device(f"cuda:{i}", total, free))
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = available = 8 << 30
    devices.append(Device("cpu", ram, available))
    return devices


def parse_pins(values: list[str] | None) -> dict[str, str]:
    """["vae=cuda:1", "cpu"] -> {"vae": "cuda:1", "*": "cpu"}; a bare device pins every demo."""
    pins = {}
    for value in values or []:
        for item in filter(None, (part.strip() for part in value.split(","))):
            demo, _, device = item.rpartition("=")
            if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
                raise ValueError(f"--device {item!r}: the device must be cpu or cuda:N")
            pins[demo or "*"] = "cuda:0" if device == "cuda" else device
    return pins


class HoldsModule:
    """Base of a demo object that keeps its torch module in `.model` beside other parts (a tokenizer, an
    image processor): the placement moves and sizes it through that module."""
    model: Any

    def to(self, device):
        self.model.to(device)
        return self

    def parameters(self):
        return self.model.parameters()

    def buffers(self):
        return self.model.buffers()


def default_move(module: Any, device: str) -> Any:
    if not hasattr(module, "to"):
        return module                   # no tensors to move (a numpy model, say): it computes where it is
    moved = module.to(device)
    return module if moved is None else moved


def module_bytes(module: Any, fallback: int) -> int:
    if hasattr(module, "parameters"):
        tensors = list(module.parameters()) + list(getattr(module, "buffers", lambda: [])())
        return sum(t.numel() * t.element_size() for t in tensors)
    return int(getattr(module, "nbytes", fallback))


def is_out_of_memory(error: BaseException) -> bool:
    return "out of memory" in str(error).lower() or type(error).__name__ == "OutOfMemoryError"


class Placement:
    def __init__(self, devices: list[Device] | Callable[[], list[Device]], pins: dict[str, str] | None = None,
                 choose: Callable[[str, int, list[str]], str | None] | None = None,
                 headroom: float = 0.1, move: Callable[[Any, str], Any] = default_move,
                 park_on_cpu: bool = True):
        self._devices = devices          # a list, or how to find them (first asked: listing demos needs no torch)
        self.pins = dict(pins or {})
        self.choose = choose
        self.headroom = headroom
        self.move = move
        self.park_on_cpu = park_on_cpu
        self.slots: dict[str, Slot] = {}
        self.stats = Stats()
        self.age = 0.0          # L in GDSF
        self._lock = threading.RLock()

    # --- registry -------------------------------------------------------------------------
    def add(self, key: str, load: Callable[[], Any], estimated_bytes: int) -> None:
        with self._lock:
            self.slots[key] = Slot(key, load, estimated_bytes, estimated_bytes)

    @property
    def devices(self) -> dict[str, Device]:
        if callable(self._devices):
            self._devices = self._devices()
        if not isinstance(self._devices, dict):
            found = list(self._devices)
            if not any(d.kind == "cpu" for d in found):
                found.append(Device("cpu", 8 << 30))
            self._devices = {d.name: d for d in found}
        return self._devices

    @property
    def gpus(self) -> list[Device]:
        return [d for d in self.devices.values() if d.kind == "cuda"]

    def budget(self, device: str) -> int:
        d = self.devices[device]
        return int(d.free - self.headroom * d.total)

    def used(self, device: str) -> int:
        return sum(s.size for s in self.slots.values() if s.device == device)

    def pin_for(self, key: str) -> str | None:
        demo = key.split("/")[0]
        return self.pins.get(key) or self.pins.get(demo) or self.pins.get("*")

    # --- leases -----------------------------------------------------------------------------
    def acquire(self, key: str) -> Any:
        """The model, loaded and placed; it cannot be evicted until `release(key)`."""
        with self._lock:
            slot = self.slots[key]
            slot.hits += 1
            slot.priority = self.age + slot.hits * slot.reload_cost / max(slot.size, 1)
            if slot.leases == 0 and (slot.module is None or slot.device == "cpu"):
                self._place(slot)
            slot.leases += 1
            return slot.module

    def release(self, key: str) -> None:
        with self._lock:
            slot = self.slots[key]
            slot.leases = max(0, slot.leases - 1)

    @contextmanager
    def lease(self, key: str):
        module = self.acquire(key)
        try:
            yield module
        finally:
            self.release(key)

    # --- placement --------------------------------------------------------------------------
    def planned_device(self, key: str) -> str:
        """Where the model would go now, without loading or evicting anything (for queue ids)."""
        with self._lock:
            slot = self.slots[key]
            if slot.device:
                return slot.device
            candidates = self._candidates(slot)
            fitting = self._best_fit(candidates, slot.size)
            return fitting or (candidates[0] if candidates else "cpu")

    def _candidates(self, slot: Slot) -> list[str]:
        pin = self.pin_for(slot.key)
        if pin:
            if pin != "cpu" and pin not in self.devices:
                slot.note = f"pinned to {pin}, which this machine does not have: using the CPU"
                return []
            return [] if pin == "cpu" else [pin]
        if self.choose:
            choice = self.choose(slot.key, slot.size, list(self.devices))
            if choice == "cpu":
                return []
            if choice in self.devices:
                return [choice]
        return [d.name for d in self.gpus]

    def _best_fit(self, candidates: list[str], size: int) -> str | None:
        room = {name: self.budget(name) - self.used(name) - size for name in candidates}
        fitting = [name for name, left in room.items() if left >= 0]
        return min(fitting, key=lambda name: room[name]) if fitting else None

    def _eviction_plan(self, candidates: list[str], size: int) -> tuple[str, list[Slot]] | None:
        """The device where the cheapest set of idle models (by GDSF priority) frees `size`."""
        best = None
        for name in candidates:
            need = size - (self.budget(name) - self.used(name))
            idle = sorted((s for s in self.slots.values() if s.device == name and s.leases == 0),
                          key=lambda s: s.priority)
            victims, freed = [], 0
            for s in idle:
                if freed >= need:
                    break
                victims.append(s)
                freed += s.size
            if freed >= need:
                cost = sum(s.priority for s in victims)
                if best is None or cost < best[0]:
                    best = (cost, name, victims)
        return None if best is None else (best[1], best[2])

    def _place(self, slot: Slot) -> None:
        candidates = self._candidates(slot)
        target = self._best_fit(candidates, slot.size)
        if target is None and candidates:
            plan = self._eviction_plan(candidates, slot.size)
            if plan:
                target, victims = plan
                for victim in victims:
                    self._evict(victim)
        if target is None:
            if candidates:
                slot.note = "no GPU has room, even after evicting idle models: running on the CPU"
                self.stats.cpu_fallbacks += 1
            target = "cpu"
        if slot.device == target:
            return
        self._move_to(slot, target)

    def _load(self, slot: Slot) -> None:
        started = time.perf_counter()
        slot.module = slot.load()
        slot.load_seconds = time.perf_counter() - started
        slot.loaded_bytes = module_bytes(slot.module, slot.estimated)
        slot.size = slot.loaded_bytes or slot.estimated
        slot.device = "cpu"
        self.stats.loads += 1
        self.stats.bytes_moved += slot.size
        self.stats.moves.append((slot.key, "disk", "cpu"))

    def _move_to(self, slot: Slot, target: str) -> None:
        if slot.module is None:
            self._load(slot)
            if target == "cpu":
                return
        for attempt in range(2):
            try:
                slot.module = self.move(slot.module, target)
                self.stats.bytes_moved += slot.size
                self.stats.moves.append((slot.key, slot.device, target))
                slot.device = target
                return
            except Exception as error:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
                if not is_out_of_memory(error):
                    raise
                self.stats.oom_retries += 1
                if attempt == 0:
                    log.warning("out of memory moving %s to %s: evicting idle models and retrying", slot.key, target)
                    self._evict_idle_on(target, keep=slot)
        log.warning("out of memory again: %s runs on the CPU", slot.key)
        slot.note = f"out of memory on {target}: running on the CPU"
        self.stats.cpu_fallbacks += 1
        if slot.device != "cpu":
            slot.module = self.move(slot.module, "cpu")
            slot.device = "cpu"

    def _evict(self, slot: Slot) -> None:
        """Park an idle model in CPU memory, or drop it when the CPU budget is spent."""
        self.age = max(self.age, slot.priority)
        self.stats.evictions += 1
        if self.park_on_cpu and self.used("cpu") + slot.size <= self.budget("cpu"):
            slot.module = self.move(slot.module, "cpu")
            self.stats.bytes_moved += slot.size
            self.stats.moves.append((slot.key, slot.device, "cpu"))
            slot.device = "cpu"
        else:
            self.stats.drops += 1
            self.stats.moves.append((slot.key, slot.device, None))
            slot.module, slot.device = None, None

    def _evict_idle_on(self, device: str, keep: Slot | None = None) -> int:
        victims = [s for s in self.slots.values() if s.device == device and s.leases == 0 and s is not keep]
        for victim in victims:
            self._evict(victim)
        return len(victims)

    # --- recovery from out-of-memory during inference --------------------------------------
    def relieve(self, key: str) -> bool:
        """After an OOM in `key`'s inference: evict the other idle models on its device.
        Returns False when there was nothing to evict (then `demote` is the next step)."""
        with self._lock:
            slot = self.slots[key]
            if slot.device in (None, "cpu"):
                return False
            self.stats.oom_retries += 1
            return self._evict_idle_on(slot.device, keep=slot) > 0

    def demote(self, key: str) -> None:
        """Move a model to the CPU for good (until the hub restarts): its GPU ran out of memory twice."""
        with self._lock:
            slot = self.slots[key]
            self.pins[key] = "cpu"
            slot.note = "ran out of GPU memory during inference: moved to the CPU"
            if slot.module is not None and slot.device != "cpu":
                slot.module = self.move(slot.module, "cpu")
                self.stats.moves.append((key, slot.device, "cpu"))
                slot.device = "cpu"
            self.stats.cpu_fallbacks += 1

    def drop(self, key: str) -> None:
        """Forget a loaded model (e.g. after its weights failed), so the next request loads afresh."""
        with self._lock:
            slot = self.slots[key]
            slot.module, slot.device = None, None

    # --- reporting ----------------------------------------------------------------------------
    def queue_for(self, keys: list[str], demo_id: str, heavy: bool = False) -> tuple[str, int]:
        """(concurrency_id, limit) of the lane an action of `demo_id`, whose models are `keys`, waits in.

        Quick work on a GPU shares one lane per GPU. On the CPU, where a job is slower, each demo has its
        own lane, so a crowd at one demo does not hold up another; so does a demo whose models are
        planned on different devices. Heavy work (streams, big batches) waits in a lane of its own
        beside them, one job at a time, so it never holds up quick work."""
        devices = {self.planned_device(key) for key in keys} or {"cpu"}
        device = devices.pop() if len(devices) == 1 else "mixed"
        if heavy:
            return f"device-{device}-{demo_id}-heavy", 1
        lane = f"device-{device}" if device.startswith("cuda") else f"device-{device}-{demo_id}"
        return lane, CONCURRENCY.get(device.split(":")[0], 2)

    def status(self, key: str) -> dict:
        with self._lock:
            slot = self.slots[key]
            planned = self.planned_device(key) + " (planned)" if not callable(self._devices) else "not placed yet"
            return {"device": slot.device or planned,
                    "loaded": slot.module is not None, "estimated_bytes": slot.estimated,
                    "loaded_bytes": slot.loaded_bytes, "in_use": slot.leases, "note": slot.note}
