#!/usr/bin/env python3
"""Overhead of data checks on a full build of a generated bench project.

    python3 benches/checks_overhead.py DERIVED_BIN BENCH_PROJECT_DIR [RUNS]

BENCH_PROJECT_DIR is a project made by ../shared/bench/gen.py (with data), e.g.
`gen.py --tables 50 --out DIR`; its `derived/` folder is copied twice, once as
is and once with a `not_null` on the first column and a `unique` over every
declared column of each table. Both are built from scratch RUNS times (default
3) at the end of the data; the medians are printed.
"""
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time

def with_checks(yml: str) -> str:
    columns = re.findall(r"- \{name: (\w+)", yml)
    if not columns or "kind: source" in yml:
        return yml
    checks = f"checks:\n  - {{not_null: [{columns[0]}]}}\n  - {{unique: [{', '.join(columns)}]}}\n"
    return yml.replace("\nsql: |", "\n" + checks + "sql: |", 1)

def build(binary: str, project: str, end: str) -> float:
    shutil.rmtree(os.path.join(project, ".derived"), ignore_errors=True)
    for source in ("raw.events", "raw.users"):
        subprocess.run([binary, "source", "mark", source, "--through", end, "--project", project], check=True, capture_output=True)
    started = time.monotonic()
    out = subprocess.run([binary, "run", "--project", project, "--now", end, "--format", "json"], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    report = json.loads(out.stdout)
    assert report["failed"] == 0, [r["error"] for r in report["runs"] if r["error"]][:3]
    return elapsed

def main():
    binary, bench, runs = os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3
    end = json.load(open(os.path.join(bench, "bench.json")))["end"].replace(" ", "T") + "Z"
    work = tempfile.mkdtemp()
    plain, checked = os.path.join(work, "plain"), os.path.join(work, "checked")
    for target in (plain, checked):
        shutil.copytree(os.path.join(bench, "derived"), target)
        os.symlink(os.path.join(os.path.abspath(bench), "data"), os.path.join(work, "data"), target_is_directory=True) if not os.path.exists(os.path.join(work, "data")) else None
    for root, _, files in os.walk(os.path.join(checked, "tables")):
        for name in files:
            path = os.path.join(root, name)
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(with_checks(text))
    times = {"plain": [], "checked": []}
    for _ in range(runs):
        times["plain"].append(build(binary, plain, end))
        times["checked"].append(build(binary, checked, end))
    a, b = statistics.median(times["plain"]), statistics.median(times["checked"])
    print(f"full build without checks: {a:.2f} s, with not_null + unique on every table: {b:.2f} s, overhead {100 * (b - a) / a:.1f}% (medians of {runs})")
    shutil.rmtree(work)

main()
