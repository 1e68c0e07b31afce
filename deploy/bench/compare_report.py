#!/usr/bin/env python3
"""The report of deploy/bench/compare-etcd.sh.

Reads the `--json` files written by `lauradb bench`, prints one side-by-side
table (LauraDB 1 shard x 3 replicas against etcd 3.4, with a ratio column),
the 3 shards x 3 replicas rows, writes an SVG bar chart and the merged
results, and ends with the line `put_c64_ratio=<LauraDB / etcd>`.

Systems are told apart by the `target` label of each result: `lauradb`,
`etcd`, `lauradb-3x3-1db`, `lauradb-3x3-3db`. A file named `*.rN.json` holds
round N of the alternating runs: every row of the table is then the median
round of that row (by ops/s, with that round's latencies), a second table
lists each round's put/64 and read/16 figures, and `put_c64_ratio` is the
median of the rounds' ratios.
"""

import argparse
import json
import os
import platform
import re
import statistics
import sys
from html import escape

MAIN = "lauradb"
ETCD = "etcd"
EXTRA = ["lauradb-3x3-1db", "lauradb-3x3-3db"]
NAMES = {
    MAIN: "LauraDB 1 shard x 3",
    ETCD: "etcd 3.4 (3 members)",
    "lauradb-3x3-1db": "LauraDB 3x3, 1 database",
    "lauradb-3x3-3db": "LauraDB 3x3, 3 databases",
}
COLORS = {
    MAIN: "#2f6fb0",
    ETCD: "#d9822b",
    "lauradb-3x3-1db": "#7fa8d6",
    "lauradb-3x3-3db": "#1d3f66",
}


def round_of(path):
    """N for a file named `*.rN.json`, else 0."""
    m = re.search(r"\.r(\d+)\.json$", path)
    return int(m.group(1)) if m else 0


def load(paths):
    """round -> (workload, clients, target) -> result row, and the run settings."""
    rounds, run = {}, None
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        run = run or doc["run"]
        rows = rounds.setdefault(round_of(path), {})
        for r in doc["results"]:
            rows[(r["workload"], r["clients"], r["target"])] = r
    return rounds, run


def median_rows(rounds):
    """Each (workload, clients, target): its median round's row (by ops/s;
    the lower middle one for an even count)."""
    seen = {}
    for rows in rounds.values():
        for key, row in rows.items():
            seen.setdefault(key, []).append(row)
    return {k: sorted(v, key=lambda r: r["ops_per_sec"])[(len(v) - 1) // 2]
            for k, v in seen.items()}


def per_round(rounds):
    """The put/64 and read/16 comparison of every round that has both systems."""
    out = []
    for n in sorted(rounds):
        rows = rounds[n]
        a, b = rows.get(("put", 64, MAIN)), rows.get(("put", 64, ETCD))
        r = ratio(a, b)
        if r is None:
            continue
        out.append((n, a, b, r, ratio(rows.get(("read", 16, MAIN)), rows.get(("read", 16, ETCD)))))
    return out


def rounds_table(results):
    out = ["| round | LauraDB put/64 ops/s | etcd put/64 ops/s | put ratio "
           "| LauraDB / etcd put p99 ms | read/16 ratio |",
           "|---:|---:|---:|---:|---:|---:|"]
    for n, a, b, r, read in results:
        out.append(f"| {n} | {a['ops_per_sec']:,.0f} | {b['ops_per_sec']:,.0f} | {r:.2f} "
                   f"| {ms(a['p99_ms'])} / {ms(b['p99_ms'])} "
                   f"| {f'{read:.2f}' if read else '-'} |")
    return "\n".join(out)


def ms(x):
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def ratio(a, b):
    return a["ops_per_sec"] / b["ops_per_sec"] if a and b and b["ops_per_sec"] > 0 else None


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), ""
            )
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu or platform.machine()}, Linux {platform.release()}"


def table(rows):
    groups = sorted({(w, c) for (w, c, t) in rows if t in (MAIN, ETCD)},
                    key=lambda g: (g[0] != "put", g[0], g[1]))
    out = [
        "| workload | clients | LauraDB ops/s | etcd ops/s | LauraDB / etcd "
        "| LauraDB p50 / p99 ms | etcd p50 / p99 ms | errors (LauraDB / etcd) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w, c in groups:
        a, b = rows.get((w, c, MAIN)), rows.get((w, c, ETCD))
        r = ratio(a, b)
        cell = lambda x: f"{x['ops_per_sec']:,.0f}" if x else "-"
        lat = lambda x: f"{ms(x['p50_ms'])} / {ms(x['p99_ms'])}" if x else "-"
        err = lambda x: str(x["errors"]) if x else "-"
        out.append(
            f"| {w} | {c} | {cell(a)} | {cell(b)} | {f'{r:.2f}' if r else '-'} "
            f"| {lat(a)} | {lat(b)} | {err(a)} / {err(b)} |"
        )
    extra = [r for (w, c, t), r in sorted(rows.items()) if t in EXTRA]
    if extra:
        out += ["", "| LauraDB 3 shards x 3 replicas | clients | ops/s | vs etcd | p50 / p99 ms | errors |",
                "|---|---:|---:|---:|---:|---:|"]
        for x in extra:
            r = ratio(x, rows.get((x["workload"], x["clients"], ETCD)))
            out.append(
                f"| {x['workload']}, {NAMES[x['target']].split(', ')[1]} | {x['clients']} "
                f"| {x['ops_per_sec']:,.0f} | {f'{r:.2f}' if r else '-'} "
                f"| {ms(x['p50_ms'])} / {ms(x['p99_ms'])} | {x['errors']} |"
            )
    return "\n".join(out)


def svg(rows, title):
    """A grouped bar chart of ops/s per (workload, clients)."""
    groups = sorted({(w, c) for (w, c, t) in rows},
                    key=lambda g: (g[0] != "put", g[0], g[1]))
    systems = [s for s in [MAIN, ETCD] + EXTRA if any(t == s for (_, _, t) in rows)]
    top = max(r["ops_per_sec"] for r in rows.values()) or 1
    step = 10 ** (len(str(int(top))) - 1)
    ymax = ((int(top) // step) + 1) * step
    W, H, left, right, bottom, head = 960, 440, 70, 20, 60, 70
    plot_w, plot_h = W - left - right, H - bottom - head
    gw = plot_w / len(groups)
    bar = min(36, (gw - 16) / max(len(systems), 1))
    y = lambda v: head + plot_h * (1 - v / ymax)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15" '
         f'font-weight="bold">{escape(title)}</text>']
    for i in range(6):
        v = ymax * i / 5
        s.append(f'<line x1="{left}" x2="{W - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                 f'stroke="#ddd"/>')
        s.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
    s.append(f'<text x="16" y="{head + plot_h / 2}" transform="rotate(-90 16 {head + plot_h / 2})" '
             f'text-anchor="middle">operations per second</text>')
    for gi, (w, c) in enumerate(groups):
        present = [t for t in systems if (w, c, t) in rows]
        x0 = left + gi * gw + (gw - bar * len(present)) / 2
        for bi, t in enumerate(present):
            v = rows[(w, c, t)]["ops_per_sec"]
            x = x0 + bi * bar
            s.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar - 2:.1f}" '
                     f'height="{head + plot_h - y(v):.1f}" fill="{COLORS[t]}"/>')
            s.append(f'<text x="{x + bar / 2 - 1:.1f}" y="{y(v) - 4:.1f}" text-anchor="middle" '
                     f'font-size="10">{v:,.0f}</text>')
        s.append(f'<text x="{left + gi * gw + gw / 2:.1f}" y="{head + plot_h + 18}" '
                 f'text-anchor="middle">{escape(w)}</text>')
        s.append(f'<text x="{left + gi * gw + gw / 2:.1f}" y="{head + plot_h + 34}" '
                 f'text-anchor="middle" fill="#555">{c} client{"s" if c != 1 else ""}</text>')
    lx = left
    for t in systems:
        s.append(f'<rect x="{lx}" y="38" width="12" height="12" fill="{COLORS[t]}"/>')
        s.append(f'<text x="{lx + 16}" y="48">{escape(NAMES[t])}</text>')
        lx += 30 + 7 * len(NAMES[t])
    s.append(f'<line x1="{left}" x2="{W - right}" y1="{head + plot_h}" y2="{head + plot_h}" '
             f'stroke="black"/>')
    s.append("</svg>")
    return "\n".join(s) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", help="lauradb bench --json files")
    p.add_argument("--svg")
    p.add_argument("--json-out")
    p.add_argument("--etcd-version", default="3.4")
    p.add_argument("--lauradb-version", default="unknown")
    args = p.parse_args()
    rounds, run = load(args.results)
    rows = median_rows(rounds)
    results = per_round(rounds)
    header = (
        f"Machine: {machine()}. LauraDB {args.lauradb_version}, etcd {args.etcd_version}. "
        f"{run['keys']} keys of {run['key_bytes']} bytes, values of {run['value_bytes']} bytes; "
        f"{run['warmup_seconds']} s warm-up + {run['seconds']} s per row; closed-loop "
        f"clients (lauradb bench) on the same machine."
    )
    print()
    print(header)
    print()
    if len(results) > 1:
        print(f"Median of {len(results)} alternating rounds (etcd, then LauraDB, each round):")
        print()
    print(table(rows))
    print()
    if len(results) > 1:
        print(rounds_table(results))
        print()
    errors = sum(r["errors"] for r in rows.values())
    if errors:
        print(f"WARNING: {errors} errors in the measured windows (see the errors columns)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"machine": machine(), "lauradb": args.lauradb_version,
                       "etcd": args.etcd_version,
                       "run": {k: v for k, v in run.items() if k not in ("url", "databases")},
                       "results": list(rows.values()),
                       "rounds": [{"round": n, "put_c64_ratio": round(r, 3),
                                   "read_c16_ratio": round(read, 3) if read else None,
                                   "results": list(rounds[n].values())}
                                  for n, _, _, r, read in results]}, f, indent=2)
            f.write("\n")
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(svg(rows, f"LauraDB vs etcd {args.etcd_version}: closed-loop ops/s over HTTP/JSON, "
                              f"3 replicas each, one {os.cpu_count()}-core machine"))
        print(f"chart: {args.svg}")
    r = statistics.median(x[3] for x in results) if results else None
    print(f"put_c64_ratio={r:.2f}" if r is not None else "put_c64_ratio=nan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
