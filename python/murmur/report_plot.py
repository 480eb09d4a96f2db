"""Draws the figure of `murmur report --svg FILE / --png FILE` with matplotlib.

`murmur report` runs this file as a script (Debian's /usr/bin/python3 and
python3-matplotlib; no import of the murmur package, so it needs no build):

    python3 report_plot.py OUT svg|png [OUT svg|png ...] < report.json

The JSON on stdin is what `murmur report` puts into its HTML page
(tools/report_html.h): per group of runs that differ only in their seed, the
mean of every metric over the seeds per evaluated round, its 95% interval,
min and max, and "view": the metric, the x axis (round, time, mb), log axes
and the band (none, seeds = min-max over seeds, ci = 95% interval, peers =
worst-to-best peer accuracy, mean over seeds). The y axis is scaled to the
data; the legend sits beside the axes with every name in full, and the
figure grows to hold it. Exit code 2 for bad input or a missing matplotlib.
"""

import json
import math
import sys

AXIS_LABELS = {"round": "round", "time": "virtual time (s)", "mb": "MB sent (all peers)"}


def _finite(v):
    return v is not None and math.isfinite(v)


def _band(group, view, i):
    m = group["metrics"][view["metric"]]
    mid = m["mean"][i]
    band = view.get("band", "none")
    if band == "seeds":
        return m["min"][i], m["max"][i]
    if band == "ci" and _finite(m["ci"][i]) and _finite(mid):
        return mid - m["ci"][i], mid + m["ci"][i]
    if band == "peers" and view["metric"].startswith("acc_"):
        return group["metrics"]["acc_min"]["mean"][i], group["metrics"]["acc_max"]["mean"][i]
    return None


def curves(data):
    """Yields (label, color, xs, means, lows, highs) per group, with the
    points a log axis cannot show (x or y <= 0) and missing values left out;
    lows/highs are None when the view has no band."""
    view = data["view"]
    for group in data["groups"]:
        xs, ys, lo, hi = [], [], [], []
        means = group["metrics"][view["metric"]]["mean"]
        for i, x in enumerate(group[view["x"]]):
            y = means[i]
            if not (_finite(x) and _finite(y)):
                continue
            if (view.get("log_x") and x <= 0) or (view.get("log_y") and y <= 0):
                continue
            band = _band(group, view, i)
            xs.append(x)
            ys.append(y)
            lo.append(band[0] if band and _finite(band[0]) else y)
            hi.append(band[1] if band and _finite(band[1]) else y)
            if view.get("log_y") and lo[-1] <= 0:
                lo[-1] = y
        label = group["label"] + (f" ({group['seeds']} seeds)" if group["seeds"] > 1 else "")
        has_band = view.get("band", "none") != "none"
        yield label, group["color"], xs, ys, lo if has_band else None, hi if has_band else None


def draw(data, outputs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    plt.rcParams["svg.hashsalt"] = "murmur"  # the same input gives the same SVG
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, editable
    view = data["view"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=150)
    for label, color, xs, ys, lo, hi in curves(data):
        ax.plot(xs, ys, color=color, label=label, linewidth=1.8, marker="o", markersize=2.5)
        if lo is not None:
            ax.fill_between(xs, lo, hi, color=color, alpha=0.2, linewidth=0)
    # Plain numbers on log axes (0.5, 2, 10 rather than 5x10^-1).
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    for log, axis, scale in ((view.get("log_x"), ax.xaxis, ax.set_xscale),
                             (view.get("log_y"), ax.yaxis, ax.set_yscale)):
        if log:
            scale("log")
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(AXIS_LABELS.get(view["x"], view["x"]))
    ax.set_ylabel(view["metric"])
    if data.get("title"):
        ax.set_title(data["title"])
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    for out_path, fmt in outputs:
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(out_path, format=fmt, bbox_inches="tight", metadata=metadata)
    plt.close(fig)


def main(argv):
    outputs = list(zip(argv[1::2], argv[2::2]))
    if len(argv) < 3 or len(argv) % 2 == 0 or any(f not in ("svg", "png") for _, f in outputs):
        print("usage: report_plot.py OUT svg|png [OUT svg|png ...] < report.json",
              file=sys.stderr)
        return 2
    try:
        data = json.load(sys.stdin)
        view = data["view"]
        if view["metric"] not in data["metrics"] or view["x"] not in AXIS_LABELS:
            raise KeyError(f"metric {view['metric']!r} or axis {view['x']!r}")
    except (ValueError, KeyError, TypeError) as e:
        print(f"report_plot.py: bad input on stdin: {e}", file=sys.stderr)
        return 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("report_plot.py: matplotlib is missing: install the Debian package "
              "python3-matplotlib (scripts/install_deps.sh)", file=sys.stderr)
        return 2
    try:
        draw(data, outputs)
    except OSError as e:
        print(f"report_plot.py: cannot write: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
