#!/usr/bin/env bash
# Model throughput on a GPU node that has JAX and/or PyTorch but no TensorFlow
# (issue 16.5): scoring and training chunks/s of the fiducial model through the
# package's backend-neutral paths (benchmarks/bench_model.py under
# KERAS_BACKEND=jax and torch).
#
# Two steps:
#
#   benchmarks/gpu_bench.sh fetch [WHEELS]   # here, where the package index is
#                                            # reachable: small wheels into WHEELS
#                                            # (default build/gpu_wheels, ~8 MB)
#   benchmarks/gpu_bench.sh run [WHEELS]     # on the GPU node, no network needed:
#                                            # JSON lines, logs and versions into $OUT
#
# build/ is git-ignored: a remote run that copies the work tree must be told to
# carry build/gpu_wheels. Each setting is capped at 240 s; the quick matrix is
# 4 settings per backend (jax and torch run one after the other).
#
# Only Keras and its own small needs travel; the node's numpy, JAX and PyTorch
# are used as they are. Keras 3.15.1 imports at start-up: absl-py, rich
# (markdown-it-py, mdurl, pygments), optree (typing-extensions), ml-dtypes,
# packaging, and lists namex and h5py as requirements it does not import to
# run a model (h5py only saves/loads .keras files). optree and ml-dtypes are
# compiled, so their wheels are fetched for CPython 3.10-3.13. Keras itself is
# always taken from WHEELS (the version the TensorFlow venv uses); every other
# wheel only where the node cannot import the module already (a second
# ml-dtypes in front of JAX's own could break JAX).
#
# Settings: PYTHON (default python3), CONFIG (default fiducial), MEASURE_SECONDS
# per measurement (default 2), BACKENDS (default "jax torch"), FULL=1 for the whole
# jax/torch matrix instead of --quick (2 scoring + 2 training batch sizes).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTION="${1:-run}"
WHEELS="$(realpath -m "${2:-$REPO/build/gpu_wheels}")"
PYTHON="${PYTHON:-python3}"

KERAS_VERSION=3.15.1
# pip name, import name, version (the TensorFlow venv's, for the same Keras).
PURE="absl-py:absl:2.5.1 rich:rich:15.0.0 markdown-it-py:markdown_it:4.3.0 mdurl:mdurl:0.1.2
pygments:pygments:2.21.0 namex:namex:0.1.0 packaging:packaging:26.4
typing-extensions:typing_extensions:4.16.0"
BINARY="optree:optree:0.20.0 ml-dtypes:ml_dtypes:0.7.0"

fetch() {
    mkdir -p "$WHEELS"
    local specs=("keras==$KERAS_VERSION")
    for entry in $PURE; do
        IFS=: read -r name _ version <<<"$entry"
        specs+=("$name==$version")
    done
    "$PYTHON" -m pip download --no-deps --only-binary=:all: --dest "$WHEELS" "${specs[@]}"
    for version in 3.10 3.11 3.12 3.13; do
        for entry in $BINARY; do
            IFS=: read -r name _ pinned <<<"$entry"
            "$PYTHON" -m pip download --no-deps --only-binary=:all: --dest "$WHEELS" \
                --python-version "$version" --implementation cp \
                --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
                --platform manylinux2014_x86_64 "$name==$pinned"
        done
    done
    du -sh "$WHEELS"
}

# install NAME: put the wheel of NAME that fits this interpreter into $SITE.
install() {
    if "$PYTHON" -m pip --version >/dev/null 2>&1; then
        "$PYTHON" -m pip install --quiet --no-index --no-deps --find-links "$WHEELS" \
            --target "$SITE" "$1"
    else  # no pip on the node: a wheel is a zip file laid out for site-packages
        "$PYTHON" - "$WHEELS" "$SITE" "$1" <<'PY'
import glob, os, sys, zipfile
wheels, site, name = sys.argv[1:]
tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
stem = name.replace("-", "_").lower()
found = [w for w in glob.glob(os.path.join(wheels, "*.whl"))
         if os.path.basename(w).lower().startswith(stem + "-")
         and ("-py3-none-any" in w or f"-{tag}-" in w)]
if not found:
    sys.exit(f"no wheel of {name} for {tag} in {wheels}")
zipfile.ZipFile(found[0]).extractall(site)
PY
    fi
}

run() {
    : "${OUT:?set OUT to the folder for the results}"
    [ -d "$WHEELS" ] || { echo "no wheels at $WHEELS: run '$0 fetch' where the index is reachable" >&2; exit 2; }
    mkdir -p "$OUT"
    SITE="$(mktemp -d)/site"
    mkdir -p "$SITE"
    install keras
    for entry in $PURE $BINARY; do
        IFS=: read -r name module _ <<<"$entry"
        "$PYTHON" -c "import $module" 2>/dev/null || { echo "installing $name"; install "$name"; }
    done
    export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"
    {
        date -Is
        "$PYTHON" --version
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
        # Without KERAS_BACKEND Keras would start TensorFlow: read versions from metadata.
        "$PYTHON" -c "from importlib import metadata as m, util
for name in ('keras', 'numpy', 'jax', 'jaxlib', 'torch', 'optree', 'ml_dtypes'):
    try:
        print(name, m.version(name), util.find_spec(name.replace('-', '_')).origin)
    except Exception as error:
        print(name, 'absent', type(error).__name__)" || true
    } > "$OUT/env.txt" 2>&1
    local quick=(--quick)
    [ "${FULL:-0}" = 1 ] && quick=()
    for backend in ${BACKENDS:-jax torch}; do
        if ! "$PYTHON" -c "import $backend" 2>/dev/null; then
            echo "$backend: not importable, skipped" | tee -a "$OUT/env.txt"
            continue
        fi
        # Which device the backend sees (bench_model.py records it per setting too).
        KERAS_BACKEND=$backend "$PYTHON" -c "import sys; sys.path.insert(0, '$REPO/benchmarks')
import backends; print(backends.device_line('$backend'))" 2>&1 | tail -1 | tee -a "$OUT/env.txt"
        KERAS_BACKEND=$backend "$PYTHON" "$REPO/benchmarks/bench_model.py" \
            --config "${CONFIG:-fiducial}" --seconds "${MEASURE_SECONDS:-2}" \
            "${quick[@]}" --timeout 240 --json "$OUT/bench_model_$backend.jsonl" \
            2>&1 | tee "$OUT/bench_model_$backend.log"
    done
}

case "$ACTION" in
    fetch) fetch ;;
    run) run ;;
    *) echo "usage: $0 fetch|run [WHEELS]" >&2; exit 2 ;;
esac
