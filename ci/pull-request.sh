#!/usr/bin/env bash
# What a pull request's CI runs: validate the whole DAG, then shadow-build the
# changed tables (and everything downstream) on production data and diff them
# against production. The markdown report is left in derived-ci-report.md.
#
#   ci/pull-request.sh BASE_REF [PROJECT_DIR]
set -euo pipefail
base="${1:?usage: ci/pull-request.sh BASE_REF [PROJECT_DIR]}"
project="${2:-.}"
report="${DERIVED_CI_REPORT:-derived-ci-report.md}"

derived validate --project "$project"
derived ci --base "$base" --project "$project" --last "${DERIVED_CI_LAST:-3d}" --report "$report" --cleanup 7d
