"""Placement, eviction, pinning and fallback on simulated GPU inventories with byte-counting fakes."""
import pytest

from hub.placement import HoldsModule, Placement, default_move, module_bytes, parse_inventory, parse_pins, parse_size

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


def placement_with(inventory="24G,24G,12G,8G", sizes=None, **kwargs):
    placement = Placement(parse_inventory(inventory), headroom=kwargs.pop("headroom", 0.0), **kwargs)
    for key, size in (sizes or {}).items():
        placement.add(key, lambda size=size: FakeModel(size), size)
    return placement


def used_gib(placement):
    return {name: placement.used(name) / G for name in placement.devices}


def test_parse_inventory_and_sizes():
    devices = parse_inventory("24G,24G,12G,8G")
    assert [d.name for d in devices] == ["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cpu"]
    assert devices[2].total == 12 * G
    assert parse_size("512M") == 512 << 20
    with pytest.raises(ValueError):
        parse_size("lots")


def test_nothing_loads_before_first_use():
    placement = placement_with(sizes={"a": 5 * G})
    assert placement.stats.loads == 0 and placement.slots["a"].module is None
    placement.acquire("a")
    assert placement.stats.loads == 1


def test_best_fit_picks_the_gpu_left_fullest():
    placement = placement_with(sizes={"seven": 7 * G, "ten": 10 * G, "twenty": 20 * G, "eleven": 11 * G})
    for key in ("seven", "ten", "twenty", "eleven"):
        with placement.lease(key):
            pass
    devices = {key: placement.slots[key].device for key in placement.slots}
    assert devices == {"seven": "cuda:3", "ten": "cuda:2", "twenty": "cuda:0", "eleven": "cuda:1"}


def test_headroom_is_kept_free():
    placement = placement_with("10G", sizes={"nine": 9.5 * G}, headroom=0.1)
    placement.acquire("nine")
    assert placement.slots["nine"].device == "cpu"           # 9.5G > 10G - 10% headroom
    assert placement.stats.cpu_fallbacks == 1


def test_eviction_keeps_the_often_used_model_and_evicts_the_rarely_used_one():
    placement = placement_with("8G", sizes={"popular": 4 * G, "rare": 4 * G, "new": 4 * G})
    for _ in range(5):
        with placement.lease("popular"):
            pass
    with placement.lease("rare"):
        pass
    with placement.lease("popular"):       # "popular" is also the most recent; make "rare" the most recent
        pass
    with placement.lease("rare"):
        pass
    with placement.lease("new"):
        pass
    assert placement.slots["popular"].device == "cuda:0"   # LRU would have evicted it
    assert placement.slots["rare"].device == "cpu"         # parked in CPU memory, not dropped
    assert placement.stats.evictions == 1


def test_reload_cost_weighs_in_eviction():
    M = 1 << 20
    placement = placement_with("1G", sizes={"slow": 400 * M, "fast": 400 * M, "incoming": 400 * M})
    for key in ("slow", "fast"):
        with placement.lease(key):
            pass
    placement.slots["slow"].load_seconds = 30.0              # as if it took 30 s to build
    for key in ("slow", "fast"):                            # same use; "slow" is now the least recent
        with placement.lease(key):
            pass
    with placement.lease("incoming"):
        pass
    assert placement.slots["fast"].device == "cpu"           # cheap to bring back: evicted
    assert placement.slots["slow"].device == "cuda:0"        # LRU would have evicted this one


def test_size_weighs_in_eviction():
    placement = placement_with("10G", sizes={"big": 6 * G, "small": 1 * G, "other": 1 * G})
    for key in ("small", "other", "big"):                   # "big" is the most recent
        with placement.lease(key):
            pass
    placement.add("incoming", lambda: FakeModel(5 * G), 5 * G)
    with placement.lease("incoming"):
        pass
    assert placement.slots["big"].device == "cpu"            # one eviction frees enough
    assert placement.slots["small"].device == placement.slots["other"].device == "cuda:0"
    assert placement.stats.evictions == 1


def test_leased_models_are_never_evicted():
    placement = placement_with("8G", sizes={"busy": 6 * G, "next": 6 * G})
    placement.acquire("busy")                              # held, not released
    placement.acquire("next")
    assert placement.slots["busy"].device == "cuda:0"
    assert placement.slots["next"].device == "cpu"         # fell back instead of evicting "busy"
    placement.release("busy")
    placement.release("next")
    with placement.lease("next"):                          # now "busy" is idle and can make room
        assert placement.slots["next"].device == "cuda:0"
    assert placement.slots["busy"].device == "cpu"


def test_dropped_when_the_cpu_cannot_park_it():
    placement = Placement(parse_inventory("8G", cpu="4G"), headroom=0.0)
    for key in ("a", "b"):
        placement.add(key, lambda: FakeModel(6 * G), 6 * G)
    with placement.lease("a"):
        pass
    with placement.lease("b"):
        pass
    assert placement.slots["a"].module is None and placement.slots["a"].device is None
    assert placement.stats.drops == 1


def test_too_big_for_every_gpu_falls_back_to_cpu():
    placement = placement_with(sizes={"huge": 30 * G})
    with placement.lease("huge") as model:
        assert model.device == "cpu"
    assert "no GPU has room" in placement.slots["huge"].note


def test_pins_send_a_demo_to_its_device():
    pins = parse_pins(["vae=cuda:1", "other=cpu"])
    assert pins == {"vae": "cuda:1", "other": "cpu"}
    placement = placement_with(sizes={"vae": 1 * G, "other": 1 * G, "free": 1 * G}, pins=pins)
    for key in ("vae", "other", "free"):
        with placement.lease(key):
            pass
    assert placement.slots["vae"].device == "cuda:1"
    assert placement.slots["other"].device == "cpu"
    assert placement.slots["free"].device == "cuda:3"        # best fit: the 8G card
    everything = placement_with(sizes={"a": G}, pins=parse_pins(["cpu"]))
    with everything.lease("a"):
        assert everything.slots["a"].device == "cpu"


def test_pin_to_a_missing_gpu_uses_the_cpu_and_says_so():
    placement = placement_with("8G", sizes={"vae": G}, pins={"vae": "cuda:5"})
    with placement.lease("vae"):
        pass
    assert placement.slots["vae"].device == "cpu"
    assert "does not have" in placement.slots["vae"].note


def test_bad_pins_are_rejected():
    with pytest.raises(ValueError, match="cpu or cuda:N"):
        parse_pins(["vae=tpu:0"])


def test_out_of_memory_on_move_evicts_and_retries_once():
    placement = placement_with("8G", sizes={"idle": 2 * G})
    with placement.lease("idle"):
        pass
    placement.add("fussy", lambda: FakeModel(2 * G, oom_on=["cuda:0"]), 2 * G)
    with placement.lease("fussy"):
        pass
    assert placement.slots["fussy"].device == "cuda:0"
    assert placement.slots["idle"].device == "cpu"
    assert placement.stats.oom_retries == 1


def test_out_of_memory_twice_falls_back_to_cpu():
    placement = placement_with("8G")
    placement.add("fussy", lambda: FakeModel(2 * G, oom_on=["cuda:0", "cuda:0"]), 2 * G)
    with placement.lease("fussy") as model:
        assert model.device == "cpu"
    assert placement.stats.cpu_fallbacks == 1


def test_out_of_memory_in_inference_relieves_then_demotes():
    placement = placement_with("8G", sizes={"idle": 2 * G, "worker": 2 * G})
    for key in ("idle", "worker"):
        with placement.lease(key):
            pass
    assert placement.relieve("worker") is True
    assert placement.slots["idle"].device == "cpu"
    assert placement.relieve("worker") is False              # nothing left to evict
    placement.demote("worker")
    assert placement.slots["worker"].device == "cpu"
    with placement.lease("worker"):                          # stays on the CPU afterwards
        assert placement.slots["worker"].device == "cpu"


def test_lanes_per_gpu_per_cpu_demo_and_for_heavy_work():
    placement = placement_with("8G", sizes={"a": G, "b": 30 * G, "c/big": 30 * G, "c/small": G})
    assert placement.queue_for(["a"], "a") == ("device-cuda:0", 2)
    assert placement.queue_for(["b"], "b")[0] == "device-cuda:0"    # planned: its first choice, before fallback
    assert placement.queue_for(["a"], "a", heavy=True) == ("device-cuda:0-a-heavy", 1)
    placement.pins["c/big"] = "cpu"
    assert placement.queue_for(["c/big", "c/small"], "c") == ("device-mixed-c", 2)   # its models apart: its own
    cpu_only = placement_with("", sizes={"a": G, "b": G})
    lanes = {cpu_only.queue_for(["a"], "a"), cpu_only.queue_for(["b"], "b"), cpu_only.queue_for(["a"], "a", heavy=True),
             cpu_only.queue_for([], "compare", heavy=True)}
    assert lanes == {("device-cpu-a", 2), ("device-cpu-b", 2), ("device-cpu-a-heavy", 1),
                     ("device-cpu-compare-heavy", 1)}


def test_mixed_inventory_fills_and_accounts_bytes():
    sizes = {f"m{i}": (i % 5 + 1) * G for i in range(20)}
    placement = placement_with(sizes=sizes)
    for key in sizes:
        with placement.lease(key):
            pass
    usage = used_gib(placement)
    for device in placement.gpus:
        assert usage[device.name] <= device.total / G
    on_gpu = sum(s.size for s in placement.slots.values() if s.device and s.device != "cpu")
    assert on_gpu == sum(placement.used(d.name) for d in placement.gpus)
    assert on_gpu / G >= 60                                # 68G of cards: nearly full


def test_an_object_holding_a_module_is_moved_and_sized_through_it():
    import torch

    class Reader(HoldsModule):
        def __init__(self):
            self.model, self.vocabulary = torch.nn.BatchNorm1d(4), ["a", "b"]

    reader = Reader()
    assert module_bytes(reader, fallback=0) == 16 * 4 + 8      # weight, bias, running mean and var; an int64 count
    assert default_move(reader, "cpu") is reader and reader.model.weight.device.type == "cpu"
