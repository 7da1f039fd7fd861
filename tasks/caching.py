"""Tasks whose results are kept for their flow run: what a resumed run does not do again.

A resumed run starts again from the top. Keyed on the task, the run and the inputs, with
results persisted, every task before the pause would come back as a Cached task run; the task's
source is part of the key, so two tasks called with the same inputs in one run do not share an
entry. A run-cached task (`run_cached_task`) goes one step further: called in a flow run whose
result store already holds its result, it returns that result without creating a task run at
all. Each replayed task run cost the Prefect server its states and events (≈50 ms of its CPU)
and the run ≈10 ms; a pairing run resumed four times replayed ≈40 of them (bench/department.py).
The first call, and any call without a stored result, runs as a task as before. And a step
that needs no task at all (a run's artifacts) is kept the same way by `run_once`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ParamSpec, TypeVar

from prefect import Task
from prefect.cache_policies import INPUTS, RUN_ID, TASK_SOURCE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.filesystems import NullFileSystem
from prefect.results import ResultStore, get_result_store
from prefect.utilities.callables import get_call_parameters
from prefect.utilities.hashing import hash_objects

WITHIN_RUN = INPUTS + RUN_ID + TASK_SOURCE

P = ParamSpec("P")
R = TypeVar("R")

_MISSING: Any = object()


def stored_result(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The result this call's task run stored earlier in the current flow run, or _MISSING.

    The key is the one the task engine computes (the task's cache policy over the call's
    parameters, the flow run's id and the task's source), read from the same result store.
    """
    flow_context = FlowRunContext.get()
    if flow_context is None or flow_context.flow_run is None or TaskRunContext.get() is not None:
        return _MISSING
    policy = task.cache_policy
    if policy is None or not hasattr(policy, "compute_key"):
        return _MISSING
    context = SimpleNamespace(
        task=task, task_run=SimpleNamespace(flow_run_id=flow_context.flow_run.id, id=None)
    )
    try:
        key = policy.compute_key(
            task_ctx=context,  # type: ignore[arg-type]
            inputs=get_call_parameters(task.fn, args, kwargs),
            flow_parameters=flow_context.parameters or {},
        )
        if key is None:
            return _MISSING
        store: ResultStore = get_result_store().update_for_task(task, _sync=True)  # type: ignore[call-arg,assignment]
        record = store.read(key)
    except Exception:  # not stored (the first call), or unreadable: run the task
        return _MISSING
    if record.metadata.expiration is not None:  # the engine knows how to expire it
        return _MISSING
    return record.result


class RunCachedTask(Task[P, R]):
    """A task whose result, once stored for the flow run, is returned without a task run."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("return_state") or kwargs.get("wait_for"):
            return super().__call__(*args, **kwargs)
        found = stored_result(self, args, kwargs)
        if found is not _MISSING:
            return found
        return super().__call__(*args, **kwargs)


def run_cached_task(**options: Any) -> Callable[[Callable[P, R]], RunCachedTask[P, R]]:
    """``@task(**options)`` kept for the flow run (WITHIN_RUN, persisted) and not replayed."""

    def decorate(fn: Callable[P, R]) -> RunCachedTask[P, R]:
        return RunCachedTask(fn=fn, cache_policy=WITHIN_RUN, persist_result=True, **options)

    return decorate


def run_once(fn: Callable[P, R]) -> Callable[P, R]:
    """A flow's step done once per flow run and inputs, without a task run of its own.

    For what only has to happen once and needs no retries (a run's artifacts): the result is
    kept in the run's result store under a key of the function, its source, the run and the
    inputs, as a run-cached task's is, so a resumed run gets it back instead of doing it again.
    Each of these was a task run (≈60 ms of server and client CPU) to create one artifact.
    Outside a flow run, or inside a task, it is a plain call.
    """
    source = hash_objects(inspect.getsource(fn), raise_on_failure=True)

    @functools.wraps(fn)
    def step(*args: P.args, **kwargs: P.kwargs) -> R:
        flow_context = FlowRunContext.get()
        if flow_context is None or flow_context.flow_run is None or TaskRunContext.get():
            return fn(*args, **kwargs)
        key = hash_objects(
            fn.__module__,
            fn.__qualname__,
            source,
            str(flow_context.flow_run.id),
            get_call_parameters(fn, args, kwargs),
            raise_on_failure=True,
        )
        assert key is not None
        store = get_result_store()
        if isinstance(store.metadata_storage, NullFileSystem):
            # The flow's own store keeps no metadata; a task's keeps it beside the result.
            store = store.model_copy(update={"metadata_storage": None})
        try:
            record = store.read(key)
        except Exception:  # not done yet in this run
            result = fn(*args, **kwargs)
            store.write(obj=result, key=key)
            return result
        return record.result  # type: ignore[no-any-return]

    return step
