"""The pointer networks' figures for RESULTS.md, at and beyond the trained n.

    python -m training.tasks.pointer.report [--examples 1000] [--split test]

For each pretrained pointer model: its export, loaded where no project code
can be imported, scored on the held-out cases of the issue's "done when"
(`serving_default`); then greedy and beam-4 decoding in-process at several
n, including sizes never trained on. Prints Markdown tables.
"""

import argparse
import dataclasses
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import zoo  # noqa: E402
from exports import export, verify  # noqa: E402
from training import train  # noqa: E402
from zoo import pointer_networks  # noqa: E402

SIZES = {"pointer_sort": (5, 10, 20, 30, 50), "pointer_hull": (10, 20, 50, 100),
         "pointer_tsp": (5, 10, 20, 30, 50)}
HEADLINE = {"pointer_sort": (10,), "pointer_hull": (50,), "pointer_tsp": (10, 20)}


def _figure(scores):
    if "mean_tour_length" in scores:
        return (f"{scores['mean_tour_length']:.3f} (ref. {scores['mean_reference_length']:.3f}, "
                f"gap {scores['error']:.2%}), valid {scores['valid']:.0%}")
    extra = f", area {scores['area_coverage']:.2%}" if "area_coverage" in scores else ""
    return f"{scores['exact']:.1%} exact{extra}, valid {scores['valid']:.0%}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--split", default="test", choices=["validation", "test"])
    parser.add_argument("--models", nargs="*", default=sorted(SIZES))
    args = parser.parse_args(argv)
    print(f"Held-out `{args.split}` cases, {args.examples} per size (seeds 0..{args.examples - 1}).")
    print("\n| model | n | export (`serving_default`, no project code) |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as base:
        for name in args.models:
            path = export.export(name, base=base)
            for size in HEADLINE[name]:
                scores = verify.evaluate_export(path, name, split=args.split, size=size,
                                                examples=args.examples)
                print(f"| `{name}` | {size} | {_figure(scores)} |")
    print("\n| model | n | trained n | greedy | beam 4 |\n|---|---|---|---|---|")
    for name in args.models:
        entry = zoo.get(name)
        model = entry.load_pretrained()
        trained = entry.preset("paper").task["sizes"]
        task = entry.task.removeprefix("pointer_")
        for size in SIZES[name]:
            row = []
            for beam in (1, 4):
                scorer = dataclasses.replace(entry, serving_fn=pointer_networks.serving_fn(task, beam))
                row.append(_figure(train.held_out_scores(scorer, model, args.split, size=size,
                                                         examples=args.examples)))
            print(f"| `{name}` | {size} | {trained[0]}..{trained[1]} | {row[0]} | {row[1]} |",
                  flush=True)


if __name__ == "__main__":
    main()
