"""bAbI tasks (Weston et al. 2015): the v1.2 text files read (`reader`), fed
and scored (`pipeline`), reported per task (`report`), and task 19's moves
(`path_finding`)."""

import functools

from training.tasks.babi import pipeline as babi_tasks
from training.tasks.base import Task


def _babi_task(size):
    def linear_start(preset):
        from custom_layers import LinearStart

        # babi_lstm_baseline has no hops
        return [LinearStart(skip_without_hops=True, epochs=preset.linear_start_epochs)]

    return Task(
        name="babi" if size == "1k" else "babi_10k",
        dataset=functools.partial(babi_tasks.dataset, size=size),
        loss="sparse_categorical_crossentropy",
        metrics=("sparse_categorical_accuracy",),
        error_metric="sparse_categorical_accuracy",
        prediction_output="answer",
        description=(f"bAbI v1.2, the 20 tasks jointly, {size} training files; the last 10% of "
                     "each task's stories held out for validation"),
        held_out=functools.partial(babi_tasks.held_out, size=size),
        score=babi_tasks.score,
        callbacks=linear_start,
    )


TASKS = dict(babi=_babi_task("1k"), babi_10k=_babi_task("10k"))
