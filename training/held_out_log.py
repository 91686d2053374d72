"""Held-out figures during training: per-task curves of a long run.

Every `every` epochs `HeldOutLog` scores the model's serving outputs on the
held-out split, as `metrics.json` has them at the end of a run (bAbI: the
error of each task, their mean, the failed tasks), and appends them to
`held_out.jsonl` in the run directory, one JSON object a line:

    {"epoch": 5, "split": "validation", "error": 0.31, "task_errors": {"19": 0.86, ...}, ...}

and to TensorBoard (`logs/held_out`). Whether a restart is learning a hard
task shows long before it ends. As a table:

    python -m training.held_out_log RUN_DIR [--columns task_errors/19 ...]
"""

import argparse
import json
import os
from pathlib import Path

import keras


def numeric_figures(figures, prefix=""):
    """The numbers of `figures` (nested dicts of them) as {"a/b": float}."""
    flat = {}
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(numeric_figures(value, f"{name}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


class HeldOutLog(keras.callbacks.Callback):
    """Appends `score(model)` to `path` (JSON lines) after every `every`th epoch.

    Args:
        path: the `.jsonl` file; rewritten whole each time (write, then
            rename), so a kill never leaves half a line.
        every: epochs between scorings (epoch numbers e with (e + 1) % every == 0).
        score: model -> a dict of figures (JSON-serialisable).
        summary_dir: where TensorBoard scalars go; None: none.
    """

    def __init__(self, path, every, score, summary_dir=None):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be an int >= 1 (epochs); received {every!r}.")
        self.path, self.every, self.score = Path(path), every, score
        self.summary_dir = summary_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        figures = {"epoch": epoch, **self.score(self.model)}
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        lines = [line for line in lines if json.loads(line)["epoch"] != epoch]  # redone after a resume
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(f"{line}\n" for line in lines + [json.dumps(figures)]))
        os.replace(tmp, self.path)
        if self.summary_dir is not None:
            self._summarise(epoch, figures)

    def _summarise(self, epoch, figures):
        import tensorflow as tf  # TensorBoard's writer; the figures are plain floats

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.summary_dir))
        with self._writer.as_default():
            for name, value in numeric_figures(figures).items():
                if name != "epoch":
                    tf.summary.scalar(name, value, step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read(path):
    """The lines of a `held_out.jsonl`, as dicts."""
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def table(lines, columns=None):
    """A Markdown table of `columns` (flattened names, see `numeric_figures`;
    default: error and failed_tasks) by epoch (counted from 0, as in
    history.csv); errors in percent."""
    flat = [numeric_figures(line) for line in lines]
    columns = columns or [c for c in ("error", "failed_tasks") if any(c in f for f in flat)]
    unknown = sorted({c for c in columns if not any(c in f for f in flat)})
    if unknown:
        known = sorted({c for f in flat for c in f} - {"epoch"}, key=lambda c: (len(c), c))
        raise ValueError(f"`columns`: no figure {unknown} in the log; it has {known}.")

    def cell(name, figures):
        if name not in figures:
            return ""
        value = figures[name]
        return f"{value:.1%}" if "error" in name else f"{value:g}"

    rows = [["epoch", *columns], ["---"] * (len(columns) + 1)]
    rows += [[str(int(f["epoch"])), *(cell(c, f) for c in columns)] for f in flat]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description="A run's held-out figures by epoch (held_out.jsonl).")
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--columns", nargs="+", metavar="NAME",
                        help="e.g. error failed_tasks task_errors/19 (default: error, failed_tasks)")
    args = parser.parse_args(argv)
    path = Path(args.run_dir) / "held_out.jsonl"
    if not path.is_file():
        parser.error(f"{path} does not exist: the run logged no held-out figures (--held-out-every).")
    try:
        print(table(read(path), args.columns))
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
