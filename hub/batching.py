"""Batched actions: requests that arrive together share one forward pass.

A plugin marks a hot action by handing `ctx.on` a `Batched` instead of a function. The hub checks each
request apart (a bad input fails its own request, never its neighbours'), queues the checked items, and
one worker per action runs the model on everything queued, up to `max_batch_size` at a time; each caller
then renders its own result. Under Ray Serve (`hub.ray_serve`) the same three parts run in the replica,
batched by `@serve.batch`.

Gradio's own `batch=True` is not used: it hands the function every request's raw inputs at once, so one
refused input fails the whole batch with its message.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

DEFAULT_MAX_BATCH_SIZE = 16
PASSES_AT_ONCE = 1              # an action's passes that may run together: a pass already uses every core it can
GATHER_SECONDS = (0.005, 0.05)      # a look for more requests: a tenth of the action's last pass, within these
MAX_GATHER_SECONDS = (0.05, 0.25)   # all the looks before a pass: half the last pass, within these


def _unchanged(result):
    return result


@dataclass
class Batched:
    """An action split at its model step.

    `prepare(*inputs)` checks one request's inputs (raising `InputError`) and returns an item;
    `run(items)` serves a list of items in one pass and returns one result per item, in order;
    `finish(result)` turns one result into the action's outputs. With `key(item)`, only items whose keys
    are equal share a pass (a beam width, a model's name). Called as a function, it serves one request
    alone: `finish(run([prepare(*inputs)])[0])`, the unbatched hub's way."""
    prepare: Callable[..., Any]
    run: Callable[[list], list]
    finish: Callable[[Any], Any] = _unchanged
    key: Callable[[Any], Any] | None = None
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE

    def __call__(self, *inputs):
        return self.finish(self.run([self.prepare(*inputs)])[0])

    def groups(self, items: list) -> list[list[int]]:
        """The positions of `items` that may share a pass, in arrival order."""
        if self.key is None:
            return [list(range(len(items)))]
        by_key: dict[Any, list[int]] = defaultdict(list)
        for position, item in enumerate(items):
            by_key[self.key(item)].append(position)
        return list(by_key.values())

    def run_grouped(self, items: list) -> list:
        """`run` over each group of equal keys; the results in the order of `items`."""
        results: list = [None] * len(items)
        for positions in self.groups(items):
            outputs = self.run([items[p] for p in positions])
            if len(outputs) != len(positions):
                raise RuntimeError(f"a batched run returned {len(outputs)} results for {len(positions)} items")
            for position, output in zip(positions, outputs):
                results[position] = output
        return results


def gathering(last_pass_s: float) -> tuple[float, float]:
    """(one look, all the looks) in seconds, before a pass of an action whose last pass took `last_pass_s`:
    waiting costs little beside a long pass, and a long pass is where a fuller batch pays."""
    def within(seconds, bounds):
        return min(max(seconds, bounds[0]), bounds[1])
    return within(0.1 * last_pass_s, GATHER_SECONDS), within(0.5 * last_pass_s, MAX_GATHER_SECONDS)


@dataclass
class _Request:
    item: Any
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


@dataclass
class BatchStats:
    """Where an action's time went: checking inputs, the model's passes, rendering results (seconds)."""
    requests: int = 0
    passes: int = 0
    prepare_s: float = 0.0
    run_s: float = 0.0
    finish_s: float = 0.0

    def as_dict(self) -> dict:
        return {"requests": self.requests, "passes": self.passes,
                "mean_batch": round(self.requests / self.passes, 2) if self.passes else 0.0,
                "prepare_s": round(self.prepare_s, 4), "run_s": round(self.run_s, 4),
                "finish_s": round(self.finish_s, 4)}


class MicroBatcher:
    """Serves one `Batched` action: callers queue checked items, worker threads run them in passes (at most
    `workers` passes at once). One at a time is the default: two passes at once on 2 cores split each crowd
    and fought over the cores (translation under 16 clients: 8.2 requests a second with two, 12.3-13.1 with
    one, `bench/scale.py`).

    When the worker is free it waits while requests keep arriving, a look of a tenth of the action's last pass
    at a time, at most half of it in all (within GATHER_SECONDS and MAX_GATHER_SECONDS), then takes up to
    `max_batch_size`: a lone request waits one look; a crowd whose answers went out together, and whose next
    requests come back spread over tens of milliseconds, is served in one pass rather than in two half-size ones
    (translation: 8 requests a pass with 5 to 50 ms of waiting, 12 with this rule, 14.6 requests a second).
    `run_pass(items)` is the model step, wrapped by the caller (the hub adds its error handling)."""

    def __init__(self, action: Batched, run_pass: Callable[[list], list] | None = None, workers: int = PASSES_AT_ONCE,
                 lanes: threading.Semaphore | None = None):
        self.action, self.workers, self.lanes = action, workers, lanes
        self.run_pass = run_pass or action.run_grouped
        self.stats = BatchStats()
        self._queue: list[_Request] = []
        self._wake = threading.Condition()
        self._running: list[threading.Thread] = []
        self._last_pass_s = 0.0

    def __call__(self, *inputs):
        started = time.perf_counter()
        item = self.action.prepare(*inputs)
        prepared = time.perf_counter()
        result = self.submit(item)
        finishing = time.perf_counter()
        outputs = self.action.finish(result)
        with self._wake:
            self.stats.prepare_s += prepared - started
            self.stats.finish_s += time.perf_counter() - finishing
        return outputs

    def submit(self, item):
        """The result of running `item` in some pass; the pass's error if it failed."""
        request = _Request(item)
        with self._wake:
            self._queue.append(request)
            self._running = [worker for worker in self._running if worker.is_alive()]
            if len(self._running) < self.workers:
                worker = threading.Thread(target=self._serve, name="hub-batcher", daemon=True)
                self._running.append(worker)
                worker.start()
            self._wake.notify()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _serve(self) -> None:
        while True:
            with self._wake:
                if not self._wake.wait_for(lambda: self._queue, timeout=60):
                    if threading.current_thread() in self._running:   # idle for a minute: a request starts another
                        self._running.remove(threading.current_thread())
                    return
            self._gather()
            with self._wake:
                batch = self._queue[:self.action.max_batch_size]
                del self._queue[:len(batch)]
            if batch:                        # with two workers, one may wake to a crowd the other took
                self._run(batch)

    def _gather(self) -> None:
        look, most = gathering(self._last_pass_s)
        deadline, seen = time.perf_counter() + most, len(self._queue)
        while time.perf_counter() < deadline:
            time.sleep(look)
            waiting = len(self._queue)
            if waiting == seen or waiting >= self.action.max_batch_size:
                return
            seen = waiting

    def _run(self, batch: list[_Request]) -> None:
        with self.lanes or contextlib.nullcontext():     # the process's passes at once (`pass_lanes`)
            self._run_now(batch)

    def _run_now(self, batch: list[_Request]) -> None:
        started = time.perf_counter()
        try:
            results = self.run_pass([request.item for request in batch])
        except BaseException as error:  # noqa: BLE001 - every caller of the pass gets its error
            for request in batch:
                request.error = error
        else:
            for request, result in zip(batch, results):
                request.result = result
        self._last_pass_s = time.perf_counter() - started
        with self._wake:
            self.stats.requests += len(batch)
            self.stats.passes += 1
            self.stats.run_s += time.perf_counter() - started
        for request in batch:
            request.done.set()


def pass_lanes(count: int) -> threading.Semaphore | None:
    """A limit on the forward passes that run at once in this process, over every batched action (None: each
    action's own limit only). Each pass uses every torch thread; several at once on few cores take turns."""
    return threading.BoundedSemaphore(count) if count > 0 else None
