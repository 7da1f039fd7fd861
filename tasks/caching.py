"""Cache policy for tasks that run before a suspend.

A resumed run starts again from the top: keyed on the task, the run and the inputs, with
results persisted, every task before the pause comes back Cached instead of running again.
The task's source is part of the key: two tasks called with the same inputs in one run must
not share a cache entry.
"""

from prefect.cache_policies import INPUTS, RUN_ID, TASK_SOURCE

WITHIN_RUN = INPUTS + RUN_ID + TASK_SOURCE
