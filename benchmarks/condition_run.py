"""Copy a finished run and condition its novelty score on the sampling.

The same model and mixture; ``gmm.h5`` gains the sampling reference of
``rnngmm train --sampling_reference`` (thinned and windowed copies of the
run's training objects, scored by the run), so the copy is what that flag
would have given without training again.

    .venv/bin/python benchmarks/condition_run.py --run_dir RUN --out NEW_RUN \\
        [--data DATASET] [--max_objects 4000] [--seed 0]

``--data``: the dataset holding the run's training objects (default: the
path its config records).
"""

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from rnngmm.io.dataset import Dataset  # noqa: E402
from rnngmm.rundir import load_run  # noqa: E402
from rnngmm.training.sampling_reference import period_search_of, reference_scores  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", default=None)
    parser.add_argument("--max_objects", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--novelty_score", default=None,
                        choices=("class_energy_msp", "class_energy", "energy"),
                        help="condition this score instead of the run's own")
    args = parser.parse_args(argv)
    started = time.time()
    run = load_run(args.run_dir)
    if args.novelty_score:
        run.novelty.novelty_score = args.novelty_score
    data = args.data or run.config["dataset"]["path"]
    with Dataset(data) as dataset:
        position = {str(i): n for n, i in enumerate(dataset.ids)}
        train = np.array(sorted(position[i] for i in run.split["train"] if i in position),
                         np.int64)
        scores, classes, n_points, baseline = reference_scores(
            run.model, run.novelty, dataset, train, run.chunking, seed=args.seed,
            max_objects=args.max_objects, search=period_search_of(run.preprocessing))
    run.novelty.set_sampling_reference(scores, classes, n_points, baseline)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    shutil.copytree(args.run_dir, args.out, ignore=shutil.ignore_patterns(
        "checkpoints", "tensorboard", "scoring*", "shift_*"))
    run.novelty.save(os.path.join(args.out, "gmm.h5"))
    config_path = os.path.join(args.out, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config.setdefault("train", {})["sampling_reference"] = True
    config["train"]["novelty_score"] = run.novelty.novelty_score
    config["dataset"]["path"] = os.path.abspath(data)
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    print(json.dumps({"run": args.out, "reference_copies": int(len(scores)),
                      "training_objects": int(min(len(train), args.max_objects)),
                      "seconds": round(time.time() - started, 1)}))


if __name__ == "__main__":
    main()
