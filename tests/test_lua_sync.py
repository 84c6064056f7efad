"""The local ingress-nginx plane's sync state: what ``/sync`` answers and when a post is
in force (pure)."""

from __future__ import annotations

import pytest

from ingressbed.errors import SetupError
from ingressbed.ingress_nginx_lua.sync import SyncState, WorkerState, parse_state

ANSWER = (
    '{"workers":[{"id":0,"synced":3,"synced_at":1796480000,"pid":4100},'
    '{"id":1,"synced":2,"synced_at":1796479990,"pid":4101},{"id":2}],'
    '"config_generation":5,"posted":3,"posted_at":1796480000}'
)


def test_the_answer_is_read_worker_by_worker():
    state = parse_state(ANSWER)
    assert state == SyncState(
        config_generation=5,
        posted=3,
        posted_at=1796480000,
        workers=(
            WorkerState(0, 4100, 3, 1796480000),
            WorkerState(1, 4101, 2, 1796479990),
            WorkerState(2, None, 0, 0),  # not registered yet
        ),
    )


def test_a_post_is_in_force_when_every_worker_of_the_configuration_applied_it():
    state = parse_state(ANSWER)
    assert [w.id for w in state.behind(3)] == [1, 2]
    assert not state.in_force(3, 5)
    done = SyncState(5, 3, 1796480000, (WorkerState(0, 1, 3, 9), WorkerState(1, 2, 4, 9)))
    assert done.in_force(3, 5)
    assert done.in_force(2, 5)  # a later post counts
    assert not done.in_force(3, 6)  # answered by the configuration before a reload


@pytest.mark.parametrize("text", ["not json", "{}", '{"workers": [{"pid": 1}]}'])
def test_anything_else_is_a_setup_error(text):
    with pytest.raises(SetupError, match=r"^the plane's /sync answered something else: "):
        parse_state(text)
