#!/usr/bin/env bash
# Run Zephyr beside its peers with the shared harness (../shared/peer-bench).
#   bash bench/run.sh inproc [extra inproc.py options]   in-process, every peer (~6 min)
#   bash bench/run.sh server [extra run.py options]      uvicorn + wrk, every peer (~40 min)
# Results land in bench/results/ (ignored by git); report.py prints the ratio tables.
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${PEER_BENCH:-../shared/peer-bench}
VENV=.venv-bench
PEERS=(starlette fastapi litestar blacksheep micropie falcon)

if [ ! -x "$VENV/bin/python" ]; then
    bash "$HARNESS/setup.sh" "$VENV"
fi
# Zephyr's own dependencies (the source itself comes from src/ via PEER_BENCH_PATH).
"$VENV/bin/python" -m pip install --quiet -e .

export PEER_BENCH_PATH=.:src
export PEER_BENCH_EXTRA=${PEER_BENCH_EXTRA:-zephyr=bench.peer_app:app,zephyr_typed=bench.peer_app:app_typed}
mode=${1:-inproc}
shift || true
case "$mode" in
    inproc) "$VENV/bin/python" "$HARNESS/inproc.py" --frameworks zephyr zephyr_typed "${PEERS[@]}" --out bench/results/ "$@" ;;
    server) "$VENV/bin/python" "$HARNESS/run.py" --frameworks zephyr zephyr_typed "${PEERS[@]}" --out bench/results/ "$@" ;;
    *) echo "usage: bench/run.sh inproc|server [options]" >&2; exit 2 ;;
esac
