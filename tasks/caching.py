"""Cache policy for tasks that run before a suspend.

A resumed run starts again from the top: keyed on the run and the inputs, with results
persisted, every task before the pause comes back Cached instead of running again.
"""

from prefect.cache_policies import INPUTS, RUN_ID

WITHIN_RUN = INPUTS + RUN_ID
