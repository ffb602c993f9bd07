#!/bin/bash
# Reproduce the shipped pretrained models (pretrained/crts8-v1, and
# pretrained/crts8-ls-v1: its autoencoder with a head for Lomb-Scargle periods)
# from the shared CRTS light curves, in one command:
#
#   benchmarks/make_pretrained.sh [WORK_DIR] [MINUTES]
#
# WORK_DIR (default /tmp/rnngmm_pretrained) receives the extracted light curves,
# the prepared dataset and the run; MINUTES (default 75) is the training wall
# time. Each finished run is then copied to $SHIP_DIR/<name> (default
# WORK_DIR/pretrained; SHIP_DIR=pretrained replaces the shipped models) by
# benchmarks/ship_run.py, which turns the build machine's paths in config.json
# and gmm.h5 into "<local>/<base name>". The recipe is the one BENCHMARKS.md settles on for the 8 CRTS classes
# (section "Sparse light curves" and "class-fair novelty score"): small GRU,
# period folding, chunks of >= 100 points, objects with >= 20 points scored,
# random cuts to >= 20 points in the autoencoder stage and one cut copy per
# chunk in the estimation stage, sqrt class weights, a [64, 64] ReLU head.
# Every shared star is used for training (20 % of them for early stopping):
# the shipped model has no test set of its own.
#
# The shipped v1 models predate the bidirectional autoencoder and the shape
# statistics (--bidirectional --shape_harmonics 3 --novelty_score class_energy,
# README "The recipe for real light curves"); this script rebuilds v1 as it
# was shipped.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/rnngmm_pretrained}
MINUTES=${2:-75}
CRTS=${CRTS_DIR:-$REPO/../shared/data/crts}
PY=${PYTHON:-$REPO/.venv/bin/python}
RNNGMM=${RNNGMM:-$REPO/.venv/bin/rnngmm}
SHIP=${SHIP_DIR:-$WORK/pretrained}

mkdir -p "$WORK"
if [ ! -d "$WORK/lightcurves" ]; then
  tar -xJf "$CRTS/lightcurves.tar.xz" -C "$WORK"
fi

# All shared stars, CRTS classes mapped onto the 8 super-classes of BENCHMARKS.md.
REPO="$REPO" "$PY" - "$CRTS/catalog.csv" "$WORK" <<'EOF'
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["REPO"], "benchmarks"))
from crts_eval import SUPERCLASSES, read_catalog, write_catalog
catalog, work = sys.argv[1:]
mapping = dict(SUPERCLASSES, EW="EW", EA="EA")
fields, rows = read_catalog(catalog, mapping)
write_catalog(os.path.join(work, "catalog.csv"), fields, rows, range(len(rows)))
with open(os.path.join(work, "class_map.json"), "w") as handle:
    json.dump(mapping, handle, indent=1)
print(f"{len(rows)} stars")
EOF

if [ ! -f "$WORK/crts8.h5" ]; then
  "$RNNGMM" prepare --catalog "$WORK/catalog.csv" --lightcurves "$WORK/lightcurves" \
    --format crts --output "$WORK/crts8.h5" --id_col id --label_col class \
    --period_col period --class_map "$WORK/class_map.json" --period_source auto
fi

# The recipe's flags, shared by both models.
RECIPE=(--config small --period_fold --n_min 100 --score_n_min 20 --augment_min_points 20
        --class_weight sqrt --lambda1 0.01 --estnet_size 64 64 --estnet_activation relu
        --estnet_drop_frac 0.2 --cls_epoch 1000 --patience 30 --batch_size 256 --threads 1
        --seed 0 --log_dir "$WORK/keras_logs" --sim_type crts)

"$RNNGMM" train --data "$WORK/crts8.h5" "${RECIPE[@]}" --augment_probability 0.5 \
  --nb_epoch 1000 --time_budget "$MINUTES" --ae_budget_fraction 0.9 --run_name crts8-v1

echo "run: $WORK/keras_logs/crts/crts8-v1"
"$PY" "$REPO/benchmarks/ship_run.py" "$WORK/keras_logs/crts/crts8-v1" "$SHIP/crts8-v1"

# pretrained/crts8-ls-v1: the same autoencoder, a new head on the periods of
# rnngmm's own Lomb-Scargle search (for catalogs without periods).
if [ ! -f "$WORK/crts8_ls.h5" ]; then
  "$RNNGMM" prepare --catalog "$WORK/catalog.csv" --lightcurves "$WORK/lightcurves" \
    --format crts --output "$WORK/crts8_ls.h5" --id_col id --label_col class \
    --class_map "$WORK/class_map.json" --period_source lomb-scargle
fi
"$RNNGMM" train --data "$WORK/crts8_ls.h5" "${RECIPE[@]}" --nb_epoch 0 \
  --init_from "$WORK/keras_logs/crts/crts8-v1" --run_name crts8-ls-v1

echo "run: $WORK/keras_logs/crts/crts8-ls-v1"
"$PY" "$REPO/benchmarks/ship_run.py" "$WORK/keras_logs/crts/crts8-ls-v1" "$SHIP/crts8-ls-v1"
