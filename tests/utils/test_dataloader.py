"""DataLoader semantics against torch's on the same datasets, and failure handling."""
import collections
import os
import signal
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ardor
import ardor.utils.data as adata

Point = collections.namedtuple("Point", "x y")


def _to_py(b):
    """Batches of either library as plain nested Python (type names kept for tensors)."""
    if isinstance(b, (ardor.Tensor, torch.Tensor)):
        return ("T", str(b.dtype).split(".")[-1], b.tolist())
    if isinstance(b, dict):
        return {k: _to_py(v) for k, v in b.items()}
    if isinstance(b, tuple) and hasattr(b, "_fields"):
        return ("NT", type(b).__name__, tuple(_to_py(v) for v in b))
    if isinstance(b, (list, tuple)):
        return (type(b).__name__, [_to_py(v) for v in b])
    return b


def _make(lib):
    data = lib.utils.data

    class MapDS(data.Dataset):
        def __len__(self):
            return 11

        def __getitem__(self, i):
            return {"img": np.full((2, 3), i, np.float32), "label": i, "w": float(i) / 2,
                    "name": f"s{i}", "pair": (i, [i, -i]), "pt": Point(i, 2 * i),
                    "t": lib.tensor([i, i + 1])}
    return MapDS()


OPTIONS = [dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None),
           dict(batch_size=1), dict(batch_size=3, sampler=[10, 0, 5, 2, 7]),
           dict(batch_sampler=[[0, 1], [5, 3, 2], [10]])]


@pytest.mark.parametrize("opts", OPTIONS, ids=str)
def test_batches_equal_torch(opts):
    ours = [_to_py(b) for b in adata.DataLoader(_make(ardor), **opts)]
    theirs = [_to_py(b) for b in tdata.DataLoader(_make(torch), **opts)]
    assert ours == theirs
    assert len(adata.DataLoader(_make(ardor), **opts)) == \
        len(tdata.DataLoader(_make(torch), **opts))


@pytest.mark.parametrize("opts", OPTIONS[:3], ids=str)
def test_workers_give_the_same_order(opts):
    single = [_to_py(b) for b in adata.DataLoader(_make(ardor), **opts)]
    multi = [_to_py(b) for b in adata.DataLoader(_make(ardor), num_workers=2, **opts)]
    assert single == multi


class _Range(tdata.IterableDataset):
    pass


def _iterable(lib, n=10):
    class It(lib.utils.data.IterableDataset):
        def __iter__(self):
            info = lib.utils.data.get_worker_info()
            if info is None:
                return iter(range(n))
            return iter(range(info.id, n, info.num_workers))

        def __len__(self):
            return n
    return It()


def test_iterable_dataset_sharding_matches_torch():
    for nw in (0, 2):
        ours = sorted(x for b in adata.DataLoader(_iterable(ardor), batch_size=3,
                                                  num_workers=nw) for x in b.tolist())
        theirs = sorted(x for b in tdata.DataLoader(_iterable(torch), batch_size=3,
                                                    num_workers=nw) for x in b.tolist())
        assert ours == theirs == list(range(10))
    ours = [b.tolist() for b in adata.DataLoader(_iterable(ardor), batch_size=3,
                                                 num_workers=2)]
    theirs = [b.tolist() for b in tdata.DataLoader(_iterable(torch), batch_size=3,
                                                   num_workers=2)]
    assert ours == theirs


def test_seeded_shuffle_is_reproducible_and_a_permutation():
    ds = adata.TensorDataset(ardor.arange(50))
    g1 = ardor.Generator().manual_seed(3)
    g2 = ardor.Generator().manual_seed(3)
    a = [b[0].tolist() for b in adata.DataLoader(ds, batch_size=7, shuffle=True, generator=g1)]
    b = [b[0].tolist() for b in adata.DataLoader(ds, batch_size=7, shuffle=True, generator=g2)]
    assert a == b
    assert sorted(x for batch in a for x in batch) == list(range(50))
    assert [x for batch in a for x in batch] != list(range(50))


def test_worker_seeds_and_info():
    class DS(adata.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            info = adata.get_worker_info()
            return ardor.tensor([info.id, info.num_workers, float(ardor.rand(1).item()),
                                 float(np.random.rand())])
    ardor.manual_seed(0)
    rows = ardor.cat(list(adata.DataLoader(DS(), batch_size=1, num_workers=2))).tolist()
    assert sorted({int(r[0]) for r in rows}) == [0, 1] and all(r[1] == 2 for r in rows)
    # different workers draw different random numbers (per-worker seeds)
    assert rows[0][2] != rows[1][2] and rows[0][3] != rows[1][3]
    ardor.manual_seed(0)
    again = ardor.cat(list(adata.DataLoader(DS(), batch_size=1, num_workers=2))).tolist()
    assert again == rows


def test_persistent_workers_over_epochs():
    ds = adata.TensorDataset(ardor.arange(10))
    dl = adata.DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True)
    first = [b[0].tolist() for b in dl]
    pids = [w.pid for w in dl._iterator._workers]
    second = [b[0].tolist() for b in dl]
    assert first == second == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [w.pid for w in dl._iterator._workers] == pids


class _Failing(adata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError("bad sample 5")
        return i


def test_worker_exception_is_reraised_with_worker_id_and_traceback():
    with pytest.raises(ValueError) as e:
        list(adata.DataLoader(_Failing(), batch_size=2, num_workers=2))
    msg = str(e.value)
    assert "DataLoader worker process 0" in msg and "bad sample 5" in msg
    assert "Traceback" in msg


class _Slow(adata.Dataset):
    def __init__(self, kill=False, sleep=0.0):
        self.kill, self.sleep = kill, sleep

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if self.kill and i == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.sleep)
        return i


def _children():
    import multiprocessing
    return [p for p in multiprocessing.active_children()]


def test_killed_worker_raises_quickly_and_leaves_no_children():
    t0 = time.time()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(adata.DataLoader(_Slow(kill=True), batch_size=1, num_workers=2))
    assert time.time() - t0 < 10
    assert not _children()


def test_timeout_trips():
    t0 = time.time()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(adata.DataLoader(_Slow(sleep=5), batch_size=1, num_workers=1, timeout=0.5))
    assert time.time() - t0 < 8
    assert not _children()


def test_breaking_out_shuts_workers_down():
    dl = adata.DataLoader(adata.TensorDataset(ardor.arange(100)), batch_size=2,
                          num_workers=2)
    it = iter(dl)
    next(it)
    workers = list(it._workers)
    del it
    import gc
    gc.collect()
    for w in workers:
        w.join(timeout=5)
        assert not w.is_alive()


def test_collate_error_names_shapes():
    class Ragged(adata.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return ardor.zeros(3 + i)
    with pytest.raises(RuntimeError, match=r"\[3\] at entry 0 and \[4\] at entry 1"):
        list(adata.DataLoader(Ragged(), batch_size=2))


@pytest.mark.parametrize("kwargs, exc", [
    (dict(shuffle=True, sampler=[0]), ValueError),
    (dict(batch_sampler=[[0]], batch_size=2), ValueError),
    (dict(num_workers=-1), ValueError),
    (dict(prefetch_factor=2), ValueError),
    (dict(persistent_workers=True), ValueError),
    (dict(batch_size=None, drop_last=True), ValueError),
])
def test_bad_options_raise_like_torch(kwargs, exc):
    with pytest.raises(exc):
        tdata.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(exc):
        adata.DataLoader(list(range(4)), **kwargs)


def test_datasets_and_random_split_match_torch():
    a = adata.ConcatDataset([list(range(3)), list(range(10, 15))])
    t = tdata.ConcatDataset([list(range(3)), list(range(10, 15))])
    assert [a[i] for i in range(-8, 8)] == [t[i] for i in range(-8, 8)]
    assert a.cumulative_sizes == t.cumulative_sizes
    parts = adata.random_split(range(10), [0.5, 0.3, 0.2],
                               generator=ardor.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [len(p) for p in tdata.random_split(
        range(10), [0.5, 0.3, 0.2], generator=torch.Generator().manual_seed(1))]
    assert sorted(i for p in parts for i in p) == list(range(10))
    with pytest.raises(ValueError):
        adata.random_split(range(10), [3, 3])
    s = adata.StackDataset(list(range(3)), list("abc"))
    assert s[1] == tdata.StackDataset(list(range(3)), list("abc"))[1]
    with pytest.raises(AssertionError):
        adata.TensorDataset(ardor.zeros(3), ardor.zeros(4))


def test_samplers_match_torch():
    assert list(adata.BatchSampler(range(10), 3, False)) == \
        list(tdata.BatchSampler(range(10), 3, False))
    assert list(adata.BatchSampler(range(10), 3, True)) == \
        list(tdata.BatchSampler(range(10), 3, True))
    for rank in range(3):
        for drop in (False, True):
            for shuffle in (False,):
                ours = list(adata.DistributedSampler(range(10), 3, rank, shuffle, 0, drop))
                theirs = list(tdata.DistributedSampler(range(10), 3, rank, shuffle, 0, drop))
                assert ours == theirs
    shards = [list(adata.DistributedSampler(range(10), 2, r, True, 5)) for r in range(2)]
    assert sorted(shards[0] + shards[1]) == list(range(10))
    w = list(adata.WeightedRandomSampler([0.0, 0.0, 1.0], 5))
    assert w == [2] * 5
    r = list(adata.RandomSampler(range(5), replacement=True, num_samples=40))
    assert len(r) == 40 and set(r) <= set(range(5))
