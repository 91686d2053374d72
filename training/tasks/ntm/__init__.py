"""Neural Turing Machine tasks: copy, repeat copy and associative recall
(Graves et al. 2014), generated (`generators`), fed and scored (`pipeline`)."""

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
    ntm_repeat_copy=Task(
        name="ntm_repeat_copy",
        dataset=pipeline.repeat_copy_dataset,
        loss="binary_crossentropy",
        metrics=("binary_accuracy",),
        error_metric="binary_accuracy",
        prediction_output="copy",
        description="copying T random 8-bit vectors R times, then an end marker (generated, seeded)",
        needs_data=False,
        held_out=pipeline.repeat_copy_held_out,
        score=pipeline.score_repeat_copy,
    ),
    ntm_recall=Task(
        name="ntm_recall",
        dataset=pipeline.recall_dataset,
        loss="binary_crossentropy",
        metrics=("binary_accuracy",),
        error_metric="binary_accuracy",
        prediction_output="next_item",
        description="recalling the item after a query among K items of three 6-bit vectors "
                    "(generated, seeded)",
        needs_data=False,
        held_out=pipeline.recall_held_out,
        score=pipeline.score_recall,
    ),
)
