"""Per-task validation errors of the pretrained bAbI models, for RESULTS.md.

    python -m training.babi_report --data-dir DIR [--models memn2n_babi memn2n_babi_10k babi_lstm_baseline]

Each model is exported and scored where no project code can be imported,
on its own validation split (the last 10% of each task's stories of the
files it was trained on). Prints a Markdown table.
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from exports import export, verify  # noqa: E402
from training import babi_tasks  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="default: $SPECIALNETS_DATA")
    parser.add_argument("--models", nargs="*",
                        default=["memn2n_babi", "memn2n_babi_10k", "babi_lstm_baseline"])
    args = parser.parse_args(argv)
    scores = {}
    with tempfile.TemporaryDirectory() as base:
        for name in args.models:
            path = export.export(name, base=base)
            scores[name] = verify.evaluate_export(path, name, data_dir=args.data_dir)
    print("| task | " + " | ".join(f"`{n}` error" for n in args.models) + " |")
    print("|---" * (len(args.models) + 1) + "|")
    for task in range(1, 21):
        cells = [f"{scores[n]['task_errors'][task]:.1%}" for n in args.models]
        print(f"| {task} | " + " | ".join(cells) + " |")
    print("| mean | " + " | ".join(f"**{scores[n]['mean_task_error']:.1%}**" for n in args.models) + " |")
    print(f"| failed (> {babi_tasks.FAILED_ABOVE:.0%}) | "
          + " | ".join(str(scores[n]["failed_tasks"]) for n in args.models) + " |")
    print("| questions | " + " | ".join(str(scores[n]["examples"]) for n in args.models) + " |")


if __name__ == "__main__":
    main()
