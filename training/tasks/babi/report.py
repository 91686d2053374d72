"""Per-task errors of the pretrained bAbI models, for RESULTS.md.

    python -m training.tasks.babi.report --data-dir DIR [--split validation|test|beyond_1k]
        [--models memn2n_babi memn2n_babi_10k babi_lstm_baseline]

Each model is exported and scored where no project code can be imported,
on its own validation split (the last 10% of each task's stories of the
files it was trained on), or with `--split test` on the official test files
(`qaN_*_test.txt` beside the training files; not in this project's data),
or with `--split beyond_1k` (the 1k models only, by default) on the 10k
files' stories after the 1k files' own: about 9,000 questions a task
that they never saw, for the tasks with a 10k file (19 here: not qa3).
Prints a Markdown table, with the paper's test errors of the same kind of
model (PE LS RN, joint, 1k) beside; the means are over the tasks scored.
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from exports import export, verify  # noqa: E402
from training.tasks.babi import pipeline as babi_tasks
from training.tasks.babi import reader as babi  # noqa: E402

# Sukhbaatar et al. 2015, Table 1, "PE LS RN" joint, 3 hops, 1k training sets:
# test error (%) of tasks 1..20 (mean 12.4).
PAPER_1K_JOINT = (0.0, 11.4, 21.9, 13.4, 14.4, 2.8, 18.3, 9.3, 1.9, 6.5,
                  0.3, 0.1, 0.2, 6.9, 0.0, 2.7, 40.4, 9.4, 88.0, 0.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="default: $SPECIALNETS_DATA")
    parser.add_argument("--split", default="validation",
                        choices=["validation", "test", babi.BEYOND_1K])
    parser.add_argument("--models", nargs="*")
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = ["memn2n_babi", "memn2n_babi_10k", "babi_lstm_baseline"]
        if args.split == babi.BEYOND_1K:
            args.models.remove("memn2n_babi_10k")
    scores = {}
    with tempfile.TemporaryDirectory() as base:
        for name in args.models:
            path = export.export(name, base=base)
            scores[name] = verify.evaluate_export(path, name, data_dir=args.data_dir,
                                                  split=args.split)
    paper = "paper: PE LS RN joint, 1k (test)"
    print("| task | " + " | ".join(f"`{n}` {args.split} error" for n in args.models)
          + f" | {paper} |")
    print("|---" * (len(args.models) + 2) + "|")
    scored = sorted(set().union(*(scores[n]["task_errors"] for n in args.models)))
    for task in range(1, 21):
        cells = [f"{scores[n]['task_errors'][task]:.1%}" if task in scores[n]["task_errors"]
                 else "none" for n in args.models]
        print(f"| {task} | " + " | ".join(cells) + f" | {PAPER_1K_JOINT[task - 1]:.1f}% |")
    paper_errors = [PAPER_1K_JOINT[task - 1] for task in scored]
    paper_mean = sum(paper_errors) / len(paper_errors)
    paper_failed = sum(e > 100 * babi_tasks.FAILED_ABOVE for e in paper_errors)
    print(f"| mean ({len(scored)} tasks) | "
          + " | ".join(f"**{scores[n]['mean_task_error']:.1%}**" for n in args.models)
          + f" | **{paper_mean:.1f}%** |")
    print(f"| failed (> {babi_tasks.FAILED_ABOVE:.0%}) | "
          + " | ".join(str(scores[n]["failed_tasks"]) for n in args.models) + f" | {paper_failed} |")
    print("| questions | " + " | ".join(str(scores[n]["examples"]) for n in args.models)
          + f" | {1000 * len(scored):,} |")


if __name__ == "__main__":
    main()
