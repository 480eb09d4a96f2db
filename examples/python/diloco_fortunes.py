#!/usr/bin/python3
"""One worker of DiLoCo training over murmur.Group (docs/python.md).

A small character-level transformer language model on the fortunes corpus
(Debian's `fortunes` package, /usr/share/games/fortunes, the corpus of
murmur's `fortunes` dataset), trained in plain PyTorch: H inner AdamW steps
on this worker's shard, then one DiLoCo outer step (Douillard et al. 2023)
through murmur: pseudo-gradients averaged over the live members, outer
Nesterov SGD, and a BLAKE2b hash check of the shared state. A worker started
with --rejoin (a restart after kill -9) first resyncs the shared state from
the others, then trains and contributes. Prints one JSON line per outer step
and writes a summary to --out. Launcher: diloco_fortunes_launch.py.
"""
import argparse
import hashlib
import json
import os
import sys
import time

import torch
import torch.nn as nn

CORPUS = "/usr/share/games/fortunes"
VOCAB = 97  # '\n', printable ASCII 32..126, other (as murmur's CharId)


def char_id(c):
    if c == 10:
        return 0
    if c == 9:
        c = 32
    return c - 31 if 32 <= c <= 126 else VOCAB - 1


def load_corpus(path, max_chars):
    files = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if not f.endswith((".dat", ".u8")) and os.path.isfile(os.path.join(path, f))
                   and not os.path.islink(os.path.join(path, f)))
    if not files:
        sys.exit(f"no fortunes under {path}: apt-get install fortunes")
    text = bytearray()
    for f in files:
        for line in open(f, "rb").read().split(b"\n"):
            if line.rstrip(b"\r") != b"%":
                text += line + b"\n"
        if len(text) >= max_chars:
            break
    return torch.tensor([char_id(c) for c in text[:max_chars]], dtype=torch.long)


class TinyLM(nn.Module):
    """Decoder-only transformer: token + position embeddings, pre-norm blocks."""

    def __init__(self, context, dim, layers, heads):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, dim)
        self.pos = nn.Embedding(context, dim)
        block = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, VOCAB)
        mask = torch.triu(torch.full((context, context), float("-inf")), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        t = x.shape[1]
        h = self.tok(x) + self.pos(torch.arange(t))
        h = self.blocks(h, mask=self.mask[:t, :t])
        return self.head(self.norm(h))


def batch(data, context, size, gen):
    idx = torch.randint(0, len(data) - context - 1, (size,), generator=gen)
    x = torch.stack([data[i:i + context] for i in idx])
    y = torch.stack([data[i + 1:i + context + 1] for i in idx])
    return x, y


def evaluate(model, x, y):
    with torch.no_grad():
        return nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1)).item()


def params_hash(model):
    h = hashlib.blake2b(digest_size=16)
    for p in model.parameters():
        h.update(p.detach().numpy().tobytes())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--world", type=int, required=True)
    ap.add_argument("--port-base", type=int, required=True)
    ap.add_argument("--workdir", required=True, help="key files and summaries")
    ap.add_argument("--rejoin", action="store_true", help="restart of a crashed worker")
    ap.add_argument("--outer-steps", type=int, default=30)
    ap.add_argument("--inner-steps", type=int, default=20, help="H")
    ap.add_argument("--context", type=int, default=32)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--chars", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--corpus", default=CORPUS)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.environ.get("MURMUR_PYTHON_PATH", os.path.join(root, "build", "python")))
    import murmur

    torch.set_num_threads(1)
    data = load_corpus(args.corpus, args.chars)
    split = int(0.9 * len(data))
    train, held_out = data[:split], data[split:]
    shard = len(train) // args.world
    mine = train[args.rank * shard:(args.rank + 1) * shard]
    eval_x, eval_y = batch(held_out, args.context, 64, torch.Generator().manual_seed(0))

    torch.manual_seed(args.seed)  # the same initial model on every worker
    model = TinyLM(args.context, args.dim, args.layers, args.heads)
    start_loss = evaluate(model, eval_x, eval_y)
    # One bootstrap address (net_host.h): rank 0's (rank 1's for rank 0
    # itself when it restarts; at the start rank 0 dials those it learns of).
    boot = 1 if args.rank == 0 else 0
    peers = [f"127.0.0.1:{args.port_base + boot}"] if args.rank != 0 or args.rejoin else []
    group = murmur.Group(args.rank, args.world, listen=f"127.0.0.1:{args.port_base + args.rank}",
                         peers=peers, key_file=os.path.join(args.workdir, f"key{args.rank}"),
                         rejoin=args.rejoin, timeout=args.timeout)
    group.on_membership_change(
        lambda e: print(json.dumps({"rank": args.rank, "event": e}), flush=True))
    if not args.rejoin:
        group.broadcast_state(model, root=0)
    group.diloco_init(model)
    step, contributed_after_resync, resynced = 0, 0, False
    if args.rejoin:
        # Resync first: this outer step pulls the shared state (weight 0).
        rep = group.diloco_outer_step(model)
        step, resynced = rep["step"], rep["resynced"]
        print(json.dumps({"rank": args.rank, "resync": rep}), flush=True)
    gen = torch.Generator().manual_seed(1000 * args.seed + args.rank + (7919 if args.rejoin else 0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    all_agree = True
    while step < args.outer_steps:
        t0 = time.time()
        for _ in range(args.inner_steps):
            x, y = batch(mine, args.context, args.batch, gen)
            loss = nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        rep = group.diloco_outer_step(model, lr=0.7, momentum=0.9)
        step = rep["step"]
        all_agree &= rep["hashes_agree"]
        resynced |= rep["resynced"]
        contributed_after_resync += int(rep["contributed"])
        print(json.dumps({"rank": args.rank, "step": step, "members": rep["members"],
                          "weight": rep["weight"], "contributed": rep["contributed"],
                          "hashes_agree": rep["hashes_agree"], "digest": rep["digest"][:16],
                          "eval_loss": round(evaluate(model, eval_x, eval_y), 4),
                          "seconds": round(time.time() - t0, 2)}), flush=True)
    summary = {"rank": args.rank, "rejoin": args.rejoin, "step": step,
               "start_loss": start_loss, "final_loss": evaluate(model, eval_x, eval_y),
               "digest": rep["digest"], "params_hash": params_hash(model),
               "hashes_agree_every_step": all_agree, "resynced": resynced,
               "contributed_steps": contributed_after_resync, "members": rep["members"]}
    with open(os.path.join(args.workdir, f"summary{args.rank}{'_rejoin' if args.rejoin else ''}.json"), "w") as f:
        json.dump(summary, f)
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
