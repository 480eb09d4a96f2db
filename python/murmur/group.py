"""murmur.Group: murmur as the communication layer of your own training loop.

A thin layer over the C++ ProcessGroup (include/murmur/group/process_group.h):
NetHost (authenticated, encrypted TCP) and murmur's fault-tolerant
collectives on a background thread. Blocking calls release the GIL. Torch
CPU tensors are updated in place (through ``tensor.numpy()``, which shares
memory); numpy float32 arrays likewise. See docs/python.md.
"""

from . import _murmur


def _flat_view(x, what):
    """A writable float32 numpy view of a tensor or array (no copy)."""
    if type(x).__module__.startswith("torch"):
        if str(x.dtype) != "torch.float32" or x.device.type != "cpu" or not x.is_contiguous():
            raise TypeError(f"{what} must be a contiguous float32 CPU tensor")
        return x.detach().numpy()
    return x


def _state_tensors(obj):
    """The tensors of a module (parameters and buffers) or a state dict, in order."""
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        return [v for v in obj.values() if hasattr(v, "dtype") and str(v.dtype) == "torch.float32"]
    return list(obj)


def _params(model):
    if hasattr(model, "parameters"):
        return [p.data for p in model.parameters()]
    return list(model)


def _gather(tensors):
    import numpy as np
    parts = [t.detach().reshape(-1).numpy() if hasattr(t, "detach") else t.reshape(-1)
             for t in tensors]
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def _scatter(flat, tensors):
    import numpy as np
    offset = 0
    for t in tensors:
        n = t.numel() if hasattr(t, "numel") else t.size
        chunk = flat[offset:offset + n]
        if hasattr(t, "copy_"):
            import torch
            with torch.no_grad():
                t.copy_(torch.from_numpy(np.array(chunk)).reshape(t.shape))
        else:
            t.reshape(-1)[:] = chunk
        offset += n


class Group:
    """One process's end of a murmur group.

    Group(rank, world_size, listen="127.0.0.1:0", peers=(), key_file="",
          network_key_file="", rejoin=False, timeout=5.0, start_timeout=30.0,
          chunk_floats=65536, max_attempts=16, min_members=0)

    ``peers``: "host:port" of other peers (one is enough); ``rejoin``: this
    process restarts a crashed member and joins the running group;
    ``min_members``: quorum of an agreement (0: a strict majority of
    world_size).
    """

    def __init__(self, rank, world_size, listen="127.0.0.1:0", peers=(), key_file="",
                 network_key_file="", rejoin=False, timeout=5.0, start_timeout=30.0,
                 chunk_floats=1 << 16, max_attempts=16, min_members=0):
        self._g = _murmur._Group(int(rank), int(world_size), str(listen), [str(p) for p in peers],
                                 str(key_file), str(network_key_file), bool(rejoin),
                                 float(timeout), float(start_timeout), int(chunk_floats),
                                 int(max_attempts), int(min_members))
        self._callbacks = []

    @property
    def listen_address(self):
        return self._g.listen_address

    @property
    def rank(self):
        return self._g.rank

    @property
    def members(self):
        """Ranks of the current members (after the last call), ascending."""
        return self._g.members()["members"]

    @property
    def epoch(self):
        return self._g.members()["epoch"]

    def on_membership_change(self, callback):
        """callback(event) runs, on the caller's thread, after each call that
        changed the membership; event = {"kind": "joined"|"left", "peer", "epoch"}."""
        self._callbacks.append(callback)

    def poll_events(self):
        """Membership events since the last poll (when no callback took them)."""
        return self._g.poll_events()

    def _dispatch(self, result):
        if self._callbacks:
            for event in self._g.poll_events():
                for cb in self._callbacks:
                    cb(event)
        return result

    def all_reduce(self, tensor, op="sum"):
        """Sums (op="sum") or averages (op="mean") ``tensor`` in place over
        the members; returns {"epoch", "members"} it was reduced over."""
        return self._dispatch(self._g.all_reduce(_flat_view(tensor, "tensor"), op))

    def broadcast_state(self, state, root=None):
        """Makes every member's state equal: the root's, or (root=None) the
        state held by most members (BLAKE2b digests compared; the others pull
        it in chunks). ``state``: a module, a state dict, or a list of tensors."""
        tensors = _state_tensors(state)
        flat = _gather(tensors)
        result = self._g.broadcast_state(flat, root)
        _scatter(flat, tensors)
        return self._dispatch(result)

    def diloco_init(self, model):
        """Sets the shared DiLoCo state to the model's parameters (local)."""
        self._g.diloco_init(_gather(_params(model)))

    def diloco_outer_step(self, model, lr=0.7, momentum=0.9, nesterov=True):
        """One DiLoCo outer step (Douillard et al. 2023): averages the
        pseudo-gradients over the members, outer SGD with Nesterov momentum,
        writes the new global parameters into ``model`` and compares the
        shared state's hashes. Returns a dict: epoch, members, weight,
        contributed, resynced, hashes_agree, digest."""
        params = _params(model)
        flat = _gather(params)
        report = self._g.diloco_outer_step(flat, float(lr), float(momentum), bool(nesterov))
        _scatter(flat, params)
        return self._dispatch(report)

    def close(self):
        """Says Bye to the peers and stops the background thread."""
        self._g = None
