#!/usr/bin/env bash
# What a user's CI runs on every pull request: validate the whole DAG.
set -euo pipefail
derived validate --project "${1:-.}"
