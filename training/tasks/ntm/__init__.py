"""Neural Turing Machine tasks: copy (Graves et al. 2014), generated
(`generators`), fed and scored (`pipeline`)."""

from training.tasks.base import Task
from training.tasks.ntm import pipeline

TASKS = dict(
    ntm_copy=Task(
        name="ntm_copy",
        dataset=pipeline.copy_dataset,
        loss="binary_crossentropy",
        metrics=("binary_accuracy",),
        error_metric="binary_accuracy",
        prediction_output="copy",
        description="copying T random 8-bit vectors after a delimiter (generated, seeded)",
        needs_data=False,
        held_out=pipeline.copy_held_out,
        score=pipeline.score_copy,
    ),
)
