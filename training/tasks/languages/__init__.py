"""The counting languages of the Stack RNN paper (Joulin & Mikolov 2015):
a^n b^n, a^n b^n c^n, a^n b^n c^n d^n, a^n b^2n, a^n b^m c^(n+m), generated
(`generators`, `builders`), fed and scored (`pipeline`)."""

import functools

from training.tasks.base import Task
from training.tasks.languages import generators, pipeline


def _task(name):
    title = generators.LANGUAGES[name].title
    counts = "n and m" if generators.LANGUAGES[name].two_counts else "n"
    return Task(
        name=name,
        dataset=functools.partial(pipeline.language_dataset, language=name),
        loss="sparse_categorical_crossentropy",
        metrics=("sparse_categorical_accuracy",),
        error_metric="sparse_categorical_accuracy",
        prediction_output="next_symbol_probabilities",
        description=f"next-symbol prediction on {title}, {counts} <= 20 in training (generated, seeded)",
        needs_data=False,
        held_out=functools.partial(pipeline.language_held_out, language=name),
        score=functools.partial(pipeline.language_score, language=name),
    )


TASKS = {name: _task(name) for name in generators.LANGUAGES}
