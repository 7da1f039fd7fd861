"""The training stage starts only from registers the director approved (base formation)."""

import pytest
from sqlmodel import Session

from tasks.training import RegistersNotApproved, _require_approved_registers


def test_training_refuses_a_cycle_without_approved_registers(engine, cycle_ids):
    _, cycle_id = cycle_ids
    with Session(engine) as session, pytest.raises(RegistersNotApproved, match="not approved"):
        _require_approved_registers(session=session, cycle_id=cycle_id)
