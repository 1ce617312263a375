from slmlib.parallel import map_chunks


def _square_all(chunk, offset):
    return [x * x + offset for x in chunk]


def test_map_chunks_keeps_order():
    items = list(range(11))
    assert map_chunks(_square_all, items, 3, 1) == [x * x + 1 for x in items]
    assert map_chunks(_square_all, [], 2, 0) == []
    assert map_chunks(_square_all, [4], 5, 0) == [16]
