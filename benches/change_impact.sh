#!/usr/bin/env bash
# Change impact on a generated bench project (../shared/bench/gen.py): build
# it, add one column to a table with downstream tables, then plan and run the
# change. Prints the intervals planned and the run's wall time.
#
#   benches/change_impact.sh DERIVED_BIN BENCH_PROJECT_DIR [TABLE_FILE] [forward]
#
# With `forward`, the change also sets `on_change: forward` on the table.
# BENCH_PROJECT_DIR is a generated project's `derived/` folder (with its
# `../data`); it is copied, never changed. Run it with two binaries to compare.
set -euo pipefail
bin="$1"
source_dir="$2"
table="${3:-tables/hourly/h0006_user_activity_msg.yml}"
mode="${4:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$source_dir" "$work/derived"
ln -s "$(cd "$source_dir/.." && pwd)/data" "$work/data"
cd "$work/derived"
rm -rf .derived
t0=2024-01-15T00:00:00Z
"$bin" source mark raw.events --through "$t0" --now "$t0" >/dev/null
"$bin" source mark raw.users --through "$t0" --now "$t0" >/dev/null
"$bin" run --now "$t0" >/dev/null 2>&1
# One more aggregate column, before FROM: nothing downstream reads it.
sed -i 's/^  FROM raw.events/         , max(event_ts) AS last_event_at\n  FROM raw.events/' "$table"
if [[ "$mode" == forward ]]; then
  sed -i 's/^strategy: append$/strategy: append\non_change: forward/' "$table"
fi
"$bin" plan --now "$t0" --format json >plan.json
python3 - <<'PY'
import json
plan = json.load(open("plan.json"))
actions = plan["actions"]
print(f"actions: {len(actions)}; intervals: {sum(a['interval_count'] for a in actions)}")
for a in actions:
    print(f"  {a['action']:<8} {a['table']:<40} {a['interval_count']:>5}")
PY
start=$(date +%s.%N)
"$bin" run --now "$t0" >/dev/null 2>&1
end=$(date +%s.%N)
echo "run: $(python3 -c "print(f'{$end - $start:.2f}')") s"
