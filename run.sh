#!/usr/bin/env bash
# One entry point for the README's quickstart and for CI.
#   ./run.sh up      set up .venv (first time) and start the embedded default:
#                    Temporal dev server (SQLite in ./data) + worker, until Ctrl-C
#   ./run.sh test    set up .venv with the test extras and run the whole test suite
#   ./run.sh <any onechain command>   e.g. ./run.sh calendar due 2026-09-30 5
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV=".venv"

setup() {
    local extras="$1" stamp="$VENV/.installed-$1"
    if [[ ! -x "$VENV/bin/python" ]]; then
        "$PYTHON" -m venv "$VENV"
    fi
    if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
        "$VENV/bin/python" -m pip install --quiet -e ".$extras"
        touch "$stamp"
    fi
}

if [[ $# -eq 0 ]]; then
    set -- up
fi

case "$1" in
    test)
        shift || true
        setup "[test]"
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        setup ""
        exec "$VENV/bin/onechain" "$@"
        ;;
esac
