"""scripts/seed_table.py, the statistic behind the docs' figure tables: hand
computed means and 95% Student-t half widths over seeds from run folders."""

import importlib.util
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("seed_table", ROOT / "scripts" / "seed_table.py")
seed_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(seed_table)

HEADER = "round,time_s,acc_mean,acc_min,acc_max,consensus_dist,bytes_sent\n"


def _run(tmp_path, name, rows, finished=True):
    """A run folder with metrics.csv rows (round, time_s, acc, bytes)."""
    d = tmp_path / name
    d.mkdir()
    lines = [f"{r},{t},{a},{a},{a},0.5,{b}\n" for r, t, a, b in rows]
    (d / "metrics.csv").write_text(HEADER + "".join(lines))
    (d / "summary.json").write_text(json.dumps(
        {"finished": finished, "round": rows[-1][0], "rounds": 10,
         "virtual_time_s": rows[-1][1]}))
    return str(d)


def test_mean_and_half_width_by_hand():
    # {1, 2, 3}: mean 2, sd 1, t(2 dof) = 4.303: half width 4.303 / sqrt(3).
    mean, half = seed_table.mean_and_half_width([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert abs(half - 2.484339) < 1e-6
    # 5 values, 4 dof: t = 2.776; sd of {0.80..0.88 step 0.02} = 0.0316228.
    mean, half = seed_table.mean_and_half_width([0.80, 0.82, 0.84, 0.86, 0.88])
    assert abs(mean - 0.84) < 1e-12
    assert abs(half - 0.0392586) < 1e-6
    assert seed_table.mean_and_half_width([0.7]) == (0.7, None)
    assert seed_table.fmt([1.0, 2.0, 3.0], 2) == "2.00 ± 2.48"


def test_summary_rows_reach_and_unfinished_runs(tmp_path, capsys, monkeypatch):
    a = _run(tmp_path, "a1", [(0, 0.0, 0.1, 0), (5, 1.0, 0.85, 100e6), (10, 2.0, 0.80, 200e6)])
    b = _run(tmp_path, "a2", [(0, 0.0, 0.1, 0), (5, 1.0, 0.70, 100e6), (10, 2.0, 0.90, 200e6)])
    c = _run(tmp_path, "a3", [(0, 0.0, 0.1, 0), (5, 3.0, 0.50, 50e6)], finished=False)
    monkeypatch.setattr("sys.argv", ["seed_table.py", "summary", "--target", "0.80",
                                     f"x = 1={a},{b},{c}"])
    seed_table.UNFINISHED.clear()
    seed_table.main()
    out = capsys.readouterr().out.splitlines()
    # Two finished seeds: final acc {0.80, 0.90} -> 0.85, sd 0.0707107, half
    # width 12.706 * 0.0707107 / sqrt(2) = 0.6353; best {0.85, 0.90}; the
    # target 0.80 is first met at 1.0 s / 100 MB and at 2.0 s / 200 MB.
    assert out[2] == ("| x = 1 | 2 of 3 | 10 | 0.8500 ± 0.6353 | 0.8750 ± 0.3177 | 200 ± 0 | "
                      "2.00 ± 0.00 | 1.50 ± 6.35 s / 150 ± 635 MB |")
    assert seed_table.UNFINISHED == [
        f"x = 1: {c} stopped at round 5 of 10 (virtual time 3.00 s) without finishing"]


def test_vs_first_pairs_seeds(tmp_path, capsys, monkeypatch):
    base = [_run(tmp_path, f"b{i}", [(0, 0.0, 0.1, 0), (10, 2.0, acc, 400e6)])
            for i, acc in enumerate([0.80, 0.82, 0.84])]
    comp = [_run(tmp_path, f"c{i}", [(0, 0.0, 0.1, 0), (10, 2.0, acc, 100e6)])
            for i, acc in enumerate([0.79, 0.80, 0.83])]
    monkeypatch.setattr("sys.argv", ["seed_table.py", "vs-first", "base=" + ",".join(base),
                                     "comp=" + ",".join(comp)])
    seed_table.main()
    out = capsys.readouterr().out.splitlines()
    # comp's accuracy {0.79, 0.80, 0.83}: mean 0.80667, sd 0.020817, half
    # width 4.303 * 0.020817 / sqrt(3) = 0.0517. Paired differences {-1, -2,
    # -1} points: mean -1.33, sd 0.57735, half width 1.4343. 4x fewer bytes.
    assert out[3].startswith("| comp | 3 | 0.8067 ± 0.0517 | -1.33 ± 1.43 | 100.00 ± 0.00 | 4.0x |")


def test_reach_ratio_with_one_row_prints_the_table_without_a_ratio(tmp_path, capsys,
                                                                   monkeypatch):
    # protocol_figures.sh ONLY='^modest' leaves D-PSGD out of the MoDeST/D-PSGD
    # byte-ratio table: the one row is printed, the ratio row is not.
    a = _run(tmp_path, "m1", [(0, 0.0, 0.1, 0), (5, 1.0, 0.85, 100e6)])
    monkeypatch.setattr("sys.argv", ["seed_table.py", "reach", "--targets", "0.80", "--ratio",
                                     f"MoDeST={a}"])
    seed_table.main()
    captured = capsys.readouterr()
    assert captured.out.splitlines()[2] == "| MoDeST | 1.00 s / 100 MB |"
    assert "MB ratio" not in captured.out
    assert "--ratio needs two rows" in captured.err
