#!/usr/bin/python3
"""Launches DiLoCo workers (diloco_fortunes.py) over murmur.Group, kills one
with kill -9 after an outer step, restarts it, and checks that the others
kept training, that the state hashes agreed after every outer step, and
that the restarted worker resynced, contributed and ended with the others'
exact state. Exit code 0 when all of that holds.

  python3 examples/python/diloco_fortunes_launch.py --world 4 --kill-rank 2 --kill-at 5
Extra arguments after -- go to every worker (e.g. -- --dim 32 --layers 1).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def start(args, rank, workdir, rejoin, extra, log):
    cmd = [sys.executable, os.path.join(HERE, "diloco_fortunes.py"), "--rank", str(rank),
           "--world", str(args.world), "--port-base", str(args.port_base),
           "--workdir", workdir, "--outer-steps", str(args.outer_steps)] + extra
    if rejoin:
        cmd.append("--rejoin")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []

    def pump():
        for line in p.stdout:
            lines.append(line)
            log(f"[{rank}{'r' if rejoin else ''}] {line.rstrip()}")
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return p, lines, t


def run(args, extra, log=print):
    workdir = args.workdir or tempfile.mkdtemp(prefix="murmur_diloco_")
    procs = {r: start(args, r, workdir, False, extra, log) for r in range(args.world)}
    victim, victim_lines, _ = procs[args.kill_rank]
    deadline = time.time() + args.deadline
    killed_at = None
    while killed_at is None and time.time() < deadline:
        for line in list(victim_lines):
            if line.startswith("{") and json.loads(line).get("step", -1) >= args.kill_at:
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed_at = json.loads(line)["step"]
                log(f"== killed rank {args.kill_rank} (kill -9) after outer step {killed_at}")
                break
        time.sleep(0.02)
    if killed_at is None:
        raise RuntimeError("the victim never reached the kill step")
    time.sleep(args.restart_delay)
    restarted = start(args, args.kill_rank, workdir, True, extra, log)
    log(f"== restarted rank {args.kill_rank} with --rejoin")
    codes = {}
    for r, (p, _, t) in list(procs.items()) + [("restarted", restarted)]:
        if r == args.kill_rank:
            continue
        try:
            codes[r] = p.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            codes[r] = "timeout"
        t.join(timeout=5)
    summaries = {}
    for r in range(args.world):
        name = f"summary{r}{'_rejoin' if r == args.kill_rank else ''}.json"
        path = os.path.join(workdir, name)
        if os.path.exists(path):
            summaries[r] = json.load(open(path))
    return {"codes": codes, "summaries": summaries, "killed_at": killed_at, "workdir": workdir}


def verdict(result, world, kill_rank):
    s = result["summaries"]
    problems = []
    if any(c != 0 for c in result["codes"].values()):
        problems.append(f"exit codes {result['codes']}")
    if len(s) != world:
        problems.append(f"summaries from {sorted(s)} only")
        return problems
    if len({v["params_hash"] for v in s.values()}) != 1:
        problems.append("final parameters differ")
    if len({v["digest"] for v in s.values()}) != 1:
        problems.append("final state digests differ")
    for r, v in s.items():
        if not v["hashes_agree_every_step"]:
            problems.append(f"rank {r}: hashes disagreed after some outer step")
        if not v["final_loss"] < v["start_loss"]:
            problems.append(f"rank {r}: loss did not decrease")
    rj = s[kill_rank]
    if not rj["resynced"] or rj["contributed_steps"] < 1:
        problems.append("the restarted worker did not resync and contribute")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", type=int, default=4)
    ap.add_argument("--kill-rank", type=int, default=2)
    ap.add_argument("--kill-at", type=int, default=5, help="outer step after which to kill")
    ap.add_argument("--outer-steps", type=int, default=30)
    ap.add_argument("--restart-delay", type=float, default=1.0)
    ap.add_argument("--port-base", type=int, default=29400)
    ap.add_argument("--deadline", type=float, default=900)
    ap.add_argument("--workdir", default="")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    result = run(args, extra)
    problems = verdict(result, args.world, args.kill_rank)
    for r, v in sorted(result["summaries"].items()):
        print(f"rank {r}: step {v['step']} loss {v['start_loss']:.3f} -> {v['final_loss']:.3f} "
              f"digest {v['digest'][:16]} resynced {v['resynced']} "
              f"contributed {v['contributed_steps']}")
    print("OK" if not problems else "FAILED: " + "; ".join(problems))
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
