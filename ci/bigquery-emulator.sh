#!/usr/bin/env bash
# The BigQuery emulator Derived's tests run against: local-bigquery 0.4.0 from
# PyPI (BigQuery's REST API v2 over DuckDB), started through
# ci/bigquery_emulator.py, which fixes its MERGE inside transactions.
#
#   ci/bigquery-emulator.sh install        # once: a venv with the emulator
#   ci/bigquery-emulator.sh start [PORT]   # in the background; prints its base URL
#   ci/bigquery-emulator.sh stop           # stops the one `start` began
#   ci/bigquery-emulator.sh exec ARGS...   # in the foreground (the tests use this)
#
# The tests start their own emulator (through `exec`); `start` is for trying
# the CLI by hand: `endpoint: <URL>` in derived.yml.
#
# Needs Python 3.13 (pyenv's 3.13.0, or DERIVED_BQ_PYTHON). Nothing is
# downloaded at run time once installed: DuckDB 2.x would fetch its extensions,
# so the venv pins DuckDB 1.5.5 and installs the extension wheels of PyPI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${DERIVED_BQ_VENV:-$HOME/.cache/derived-bq-venv}"
state="${DERIVED_BQ_STATE:-$HOME/.cache/derived-bq-emulator}"
marker="$venv/.derived-installed-0.4.0"

python313() {
  if [[ -n "${DERIVED_BQ_PYTHON:-}" ]]; then echo "$DERIVED_BQ_PYTHON"; return; fi
  local candidate
  for candidate in "$(pyenv root 2>/dev/null)/versions/3.13.0/bin/python3" "$(command -v python3.13 || true)"; do
    if [[ -x "$candidate" ]]; then echo "$candidate"; return; fi
  done
  echo "bigquery-emulator: Python 3.13 not found (install it with pyenv, or set DERIVED_BQ_PYTHON)" >&2
  exit 1
}

install() {
  [[ -f "$marker" ]] && return
  "$(python313)" -m venv "$venv"
  "$venv/bin/pip" install -q local-bigquery==0.4.0
  "$venv/bin/pip" install -q --no-deps duckdb==1.5.5 duckdb-extension-icu==1.5.5 \
    duckdb-extension-ducklake==1.5.5 duckdb-extension-spatial==1.5.5
  "$venv/bin/python" - <<'PY'
import glob, site, duckdb
connection = duckdb.connect()
for path in glob.glob(site.getsitepackages()[0] + "/duckdb_extension_*/extensions/*/*.duckdb_extension"):
    connection.execute(f"INSTALL '{path}'")
PY
  touch "$marker"
}

case "${1:-}" in
  install)
    install
    ;;
  exec)
    shift
    install
    exec "$venv/bin/python" "$here/bigquery_emulator.py" "$@"
    ;;
  start)
    install
    port="${2:-9050}"
    mkdir -p "$state"
    data="$(mktemp -d)"
    nohup "$venv/bin/python" "$here/bigquery_emulator.py" --host 127.0.0.1 --port "$port" \
      --grpc-port "$((port + 1))" --project test-project --data-dir "$data" \
      >"$state/emulator.log" 2>&1 &
    echo $! >"$state/pid"
    url="http://127.0.0.1:$port/bigquery/v2"
    for _ in $(seq 1 100); do
      if curl -sf -o /dev/null "$url/projects/test-project/datasets"; then echo "$url"; exit 0; fi
      sleep 0.2
    done
    echo "bigquery-emulator: not ready after 20 s; see $state/emulator.log" >&2
    exit 1
    ;;
  stop)
    [[ -f "$state/pid" ]] && kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -f "$state/pid"
    ;;
  *)
    sed -n '2,16p' "$0" >&2
    exit 2
    ;;
esac
