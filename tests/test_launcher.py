"""Placement, eviction, pinning and fallback on simulated GPU inventories with byte-counting fakes."""
import pytest

from hub.launcher import HoldsModule, Launcher, default_move, module_bytes, parse_inventory, parse_pins, parse_size

G = 1 << 30


class FakeModel:
    """Counts its bytes and where it has been; raises OOM when told to."""

    def __init__(self, nbytes, oom_on=()):
        self.nbytes, self.device, self.oom_on = nbytes, "cpu", list(oom_on)

    def to(self, device):
        if device in self.oom_on:
            self.oom_on.remove(device)
            raise RuntimeError(f"CUDA out of memory on {device}")
        self.device = device
        return self


def launcher_with(inventory="24G,24G,12G,8G", sizes=None, **kwargs):
    launcher = Launcher(parse_inventory(inventory), headroom=kwargs.pop("headroom", 0.0), **kwargs)
    for key, size in (sizes or {}).items():
        launcher.add(key, lambda size=size: FakeModel(size), size)
    return launcher


def used_gib(launcher):
    return {name: launcher.used(name) / G for name in launcher.devices}


def test_parse_inventory_and_sizes():
    devices = parse_inventory("24G,24G,12G,8G")
    assert [d.name for d in devices] == ["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cpu"]
    assert devices[2].total == 12 * G
    assert parse_size("512M") == 512 << 20
    with pytest.raises(ValueError):
        parse_size("lots")


def test_nothing_loads_before_first_use():
    launcher = launcher_with(sizes={"a": 5 * G})
    assert launcher.stats.loads == 0 and launcher.slots["a"].module is None
    launcher.acquire("a")
    assert launcher.stats.loads == 1


def test_best_fit_picks_the_gpu_left_fullest():
    launcher = launcher_with(sizes={"seven": 7 * G, "ten": 10 * G, "twenty": 20 * G, "eleven": 11 * G})
    for key in ("seven", "ten", "twenty", "eleven"):
        with launcher.lease(key):
            pass
    devices = {key: launcher.slots[key].device for key in launcher.slots}
    assert devices == {"seven": "cuda:3", "ten": "cuda:2", "twenty": "cuda:0", "eleven": "cuda:1"}


def test_headroom_is_kept_free():
    launcher = launcher_with("10G", sizes={"nine": 9.5 * G}, headroom=0.1)
    launcher.acquire("nine")
    assert launcher.slots["nine"].device == "cpu"           # 9.5G > 10G - 10% headroom
    assert launcher.stats.cpu_fallbacks == 1


def test_eviction_keeps_the_often_used_model_and_evicts_the_rarely_used_one():
    launcher = launcher_with("8G", sizes={"popular": 4 * G, "rare": 4 * G, "new": 4 * G})
    for _ in range(5):
        with launcher.lease("popular"):
            pass
    with launcher.lease("rare"):
        pass
    with launcher.lease("popular"):       # "popular" is also the most recent; make "rare" the most recent
        pass
    with launcher.lease("rare"):
        pass
    with launcher.lease("new"):
        pass
    assert launcher.slots["popular"].device == "cuda:0"   # LRU would have evicted it
    assert launcher.slots["rare"].device == "cpu"         # parked in CPU memory, not dropped
    assert launcher.stats.evictions == 1


def test_reload_cost_weighs_in_eviction():
    M = 1 << 20
    launcher = launcher_with("1G", sizes={"slow": 400 * M, "fast": 400 * M, "incoming": 400 * M})
    for key in ("slow", "fast"):
        with launcher.lease(key):
            pass
    launcher.slots["slow"].load_seconds = 30.0              # as if it took 30 s to build
    for key in ("slow", "fast"):                            # same use; "slow" is now the least recent
        with launcher.lease(key):
            pass
    with launcher.lease("incoming"):
        pass
    assert launcher.slots["fast"].device == "cpu"           # cheap to bring back: evicted
    assert launcher.slots["slow"].device == "cuda:0"        # LRU would have evicted this one


def test_size_weighs_in_eviction():
    launcher = launcher_with("10G", sizes={"big": 6 * G, "small": 1 * G, "other": 1 * G})
    for key in ("small", "other", "big"):                   # "big" is the most recent
        with launcher.lease(key):
            pass
    launcher.add("incoming", lambda: FakeModel(5 * G), 5 * G)
    with launcher.lease("incoming"):
        pass
    assert launcher.slots["big"].device == "cpu"            # one eviction frees enough
    assert launcher.slots["small"].device == launcher.slots["other"].device == "cuda:0"
    assert launcher.stats.evictions == 1


def test_leased_models_are_never_evicted():
    launcher = launcher_with("8G", sizes={"busy": 6 * G, "next": 6 * G})
    launcher.acquire("busy")                              # held, not released
    launcher.acquire("next")
    assert launcher.slots["busy"].device == "cuda:0"
    assert launcher.slots["next"].device == "cpu"         # fell back instead of evicting "busy"
    launcher.release("busy")
    launcher.release("next")
    with launcher.lease("next"):                          # now "busy" is idle and can make room
        assert launcher.slots["next"].device == "cuda:0"
    assert launcher.slots["busy"].device == "cpu"


def test_dropped_when_the_cpu_cannot_park_it():
    launcher = Launcher(parse_inventory("8G", cpu="4G"), headroom=0.0)
    for key in ("a", "b"):
        launcher.add(key, lambda: FakeModel(6 * G), 6 * G)
    with launcher.lease("a"):
        pass
    with launcher.lease("b"):
        pass
    assert launcher.slots["a"].module is None and launcher.slots["a"].device is None
    assert launcher.stats.drops == 1


def test_too_big_for_every_gpu_falls_back_to_cpu():
    launcher = launcher_with(sizes={"huge": 30 * G})
    with launcher.lease("huge") as model:
        assert model.device == "cpu"
    assert "no GPU has room" in launcher.slots["huge"].note


def test_pins_send_a_demo_to_its_device():
    pins = parse_pins(["vae=cuda:1", "other=cpu"])
    assert pins == {"vae": "cuda:1", "other": "cpu"}
    launcher = launcher_with(sizes={"vae": 1 * G, "other": 1 * G, "free": 1 * G}, pins=pins)
    for key in ("vae", "other", "free"):
        with launcher.lease(key):
            pass
    assert launcher.slots["vae"].device == "cuda:1"
    assert launcher.slots["other"].device == "cpu"
    assert launcher.slots["free"].device == "cuda:3"        # best fit: the 8G card
    everything = launcher_with(sizes={"a": G}, pins=parse_pins(["cpu"]))
    with everything.lease("a"):
        assert everything.slots["a"].device == "cpu"


def test_pin_to_a_missing_gpu_uses_the_cpu_and_says_so():
    launcher = launcher_with("8G", sizes={"vae": G}, pins={"vae": "cuda:5"})
    with launcher.lease("vae"):
        pass
    assert launcher.slots["vae"].device == "cpu"
    assert "does not have" in launcher.slots["vae"].note


def test_bad_pins_are_rejected():
    with pytest.raises(ValueError, match="cpu or cuda:N"):
        parse_pins(["vae=tpu:0"])


def test_out_of_memory_on_move_evicts_and_retries_once():
    launcher = launcher_with("8G", sizes={"idle": 2 * G})
    with launcher.lease("idle"):
        pass
    launcher.add("fussy", lambda: FakeModel(2 * G, oom_on=["cuda:0"]), 2 * G)
    with launcher.lease("fussy"):
        pass
    assert launcher.slots["fussy"].device == "cuda:0"
    assert launcher.slots["idle"].device == "cpu"
    assert launcher.stats.oom_retries == 1


def test_out_of_memory_twice_falls_back_to_cpu():
    launcher = launcher_with("8G")
    launcher.add("fussy", lambda: FakeModel(2 * G, oom_on=["cuda:0", "cuda:0"]), 2 * G)
    with launcher.lease("fussy") as model:
        assert model.device == "cpu"
    assert launcher.stats.cpu_fallbacks == 1


def test_out_of_memory_in_inference_relieves_then_demotes():
    launcher = launcher_with("8G", sizes={"idle": 2 * G, "worker": 2 * G})
    for key in ("idle", "worker"):
        with launcher.lease(key):
            pass
    assert launcher.relieve("worker") is True
    assert launcher.slots["idle"].device == "cpu"
    assert launcher.relieve("worker") is False              # nothing left to evict
    launcher.demote("worker")
    assert launcher.slots["worker"].device == "cpu"
    with launcher.lease("worker"):                          # stays on the CPU afterwards
        assert launcher.slots["worker"].device == "cpu"


def test_lanes_per_gpu_per_cpu_demo_and_for_heavy_work():
    launcher = launcher_with("8G", sizes={"a": G, "b": 30 * G, "c/big": 30 * G, "c/small": G})
    assert launcher.queue_for(["a"], "a") == ("device-cuda:0", 2)
    assert launcher.queue_for(["b"], "b")[0] == "device-cuda:0"    # planned: its first choice, before fallback
    assert launcher.queue_for(["a"], "a", heavy=True) == ("device-cuda:0-a-heavy", 1)
    launcher.pins["c/big"] = "cpu"
    assert launcher.queue_for(["c/big", "c/small"], "c") == ("device-mixed-c", 2)   # its models apart: its own
    cpu_only = launcher_with("", sizes={"a": G, "b": G})
    lanes = {cpu_only.queue_for(["a"], "a"), cpu_only.queue_for(["b"], "b"), cpu_only.queue_for(["a"], "a", heavy=True),
             cpu_only.queue_for([], "compare", heavy=True)}
    assert lanes == {("device-cpu-a", 2), ("device-cpu-b", 2), ("device-cpu-a-heavy", 1),
                     ("device-cpu-compare-heavy", 1)}


def test_mixed_inventory_fills_and_accounts_bytes():
    sizes = {f"m{i}": (i % 5 + 1) * G for i in range(20)}
    launcher = launcher_with(sizes=sizes)
    for key in sizes:
        with launcher.lease(key):
            pass
    usage = used_gib(launcher)
    for device in launcher.gpus:
        assert usage[device.name] <= device.total / G
    on_gpu = sum(s.size for s in launcher.slots.values() if s.device and s.device != "cpu")
    assert on_gpu == sum(launcher.used(d.name) for d in launcher.gpus)
    assert on_gpu / G >= 60                                # 68G of cards: nearly full


def test_an_object_holding_a_module_is_moved_and_sized_through_it():
    import torch

    class Reader(HoldsModule):
        def __init__(self):
            self.model, self.vocabulary = torch.nn.BatchNorm1d(4), ["a", "b"]

    reader = Reader()
    assert module_bytes(reader, fallback=0) == 16 * 4 + 8      # weight, bias, running mean and var; an int64 count
    assert default_move(reader, "cpu") is reader and reader.model.weight.device.type == "cpu"
