"""Elementwise fusion: maximal trees/DAGs of elementwise ops become one ``fused`` node."""
from __future__ import annotations

from .._ir import Graph, Node, outside_inputs, regions, remap_inputs
from .basic import _impure


def _fusable(n: Node) -> bool:
    if n.kind != "call" or n.op.expr is None or n.multi or n.meta is None:
        return False
    if _impure(n.op):
        return False
    if n.meta[1].np.kind not in "fbiu":
        return False
    for a in n.args:
        if not isinstance(a, (Node, int, float, bool)):
            return False
        if isinstance(a, Node) and (a.meta is None or a.multi
                                    or a.meta[1].np.kind not in "fbiu"):
            return False
    return True


def body_of(members: list, root: Node) -> tuple:
    """(body graph, external inputs) of elementwise ``members`` (in graph order) whose value
    is ``root``'s: each external input becomes a placeholder x0, x1, ... of the body."""
    ext = outside_inputs(members)
    body = Graph()
    mp = {}
    for i, e in enumerate(ext):
        mp[id(e)] = body.placeholder(f"x{i}", e.meta[0], e.meta[1])
    for m in members:
        mp[id(m)] = body.node_copy(m, lambda a: mp[id(a)])
    body.output(mp[id(root)])
    return body, ext


def fuse(graph: Graph, min_size: int = 2) -> Graph:
    """Group elementwise nodes (those with an ``expr`` in the op table) into fused nodes.

    A group grows from a root towards its producers; a producer joins when every reader of
    it is already in the group, so only the root's value leaves the group. Inputs may
    broadcast: the kernel indexes each input with its broadcast strides. Regions of if/loop
    nodes are fused on their own."""
    g = graph.copy()
    _fuse_into(g, min_size)
    return g


def _fuse_into(g: Graph, min_size: int) -> None:
    for n in g.nodes:
        for r in regions(n):
            _fuse_into(r, min_size)
    users = g.users_map()
    pinned = {id(v) for _, v in g.mutations}
    order = {id(n): i for i, n in enumerate(g.nodes)}
    taken: set = set()
    groups = []
    for n in reversed(g.nodes):
        if id(n) in taken or not _fusable(n):
            continue
        grp = {id(n): n}
        changed = True
        while changed:
            changed = False
            for m in list(grp.values()):
                for a in m.inputs:
                    if id(a) in grp or id(a) in taken or id(a) in pinned or not _fusable(a) \
                            or id(a) not in users:   # (a value of an enclosing scope)
                        continue
                    if all(id(u) in grp for u in users[id(a)]):
                        grp[id(a)] = a
                        changed = True
        if len(grp) >= min_size:
            taken.update(grp)
            groups.append((n, grp))
    if not groups:
        return
    replace = {}
    drop = set()
    for root, grp in groups:
        body, ext = body_of(sorted(grp.values(), key=lambda x: order[id(x)]), root)
        fused = Node(g, "fused", g._name(f"fused_{root.name}"), args=tuple(ext),
                     attrs={"body": body}, meta=root.meta)
        replace[id(root)] = fused
        drop.update(k for k in grp if k != id(root))
    new = []
    for n in g.nodes:
        if id(n) in drop:
            g._names.discard(n.name)
            continue
        if id(n) in replace:
            g._names.discard(n.name)
            new.append(replace[id(n)])
            continue
        new.append(n)
    for n in new:
        remap_inputs(n, replace)
    g.nodes = new
    g.mutations = [(t, replace.get(id(v), v)) for t, v in g.mutations]
