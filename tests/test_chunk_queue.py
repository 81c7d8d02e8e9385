"""How a run hands tenants out: big chunks while there is much left, single tenants at the end."""

from toolkit.migrations.apply import TenantTask
from toolkit.migrations.workers import _CHUNK_MAX, _ChunkQueue


def _drain(queue: _ChunkQueue) -> list[list[TenantTask]]:
    chunks = []
    while queue:
        chunks.append(queue.take())
    return chunks


def test_chunks_shrink_towards_the_end_and_hand_out_every_tenant_once_in_order():
    tasks = [TenantTask(f"tenant_t{i:04d}", 0, None) for i in range(1000)]

    chunks = _drain(_ChunkQueue(tasks, processes=2))

    assert [task for chunk in chunks for task in chunk] == tasks
    sizes = [len(chunk) for chunk in chunks]
    assert sizes[0] == _CHUNK_MAX
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-8:] == [1] * 8  # the last tenants go out one by one


def test_a_retry_is_queued_again_and_clear_hands_out_nothing_more():
    queue = _ChunkQueue([TenantTask("tenant_a", 0, None)], processes=2)
    (first,) = queue.take()
    queue.append(first)

    assert queue.take() == [first]
    queue.append(first)
    queue.clear()
    assert not queue
    assert queue.take() == []
