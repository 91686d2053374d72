"""Pointer-network tasks: sorting, planar convex hulls and TSP tours,
generated (`generators`), as tensorflow-datasets builders (`builders`), fed
and scored (`pipeline`), reported (`report`)."""

import functools

from training.tasks.base import Task
from training.tasks.pointer import pipeline as pointer_data


def _pointer_task(kind, description):
    return Task(
        name=f"pointer_{kind}",
        dataset=functools.partial(pointer_data.dataset, kind),
        loss=pointer_loss,
        metrics=(pointer_accuracy,),
        error_metric="pointer_accuracy",
        prediction_output={"sort": "order", "hull": "hull", "tsp": "tour"}[kind],
        description=description,
        needs_data=False,
        held_out=functools.partial(pointer_data.held_out, kind),
        score=getattr(pointer_data, f"score_{kind}"),
    )


def pointer_loss():
    from custom_layers.pointer_losses import PointerLoss

    return PointerLoss()


def pointer_accuracy():
    from custom_layers.pointer_losses import PointerAccuracy

    return PointerAccuracy()


TASKS = dict(
    pointer_sort=_pointer_task("sort", "sorting n uniform floats (generated, seeded)"),
    pointer_hull=_pointer_task(
        "hull", "planar convex hulls of n uniform points in the unit square (generated, exact)"),
    pointer_tsp=_pointer_task(
        "tsp", "TSP tours of n uniform cities; optimal (Held-Karp) up to 12, 2-opt beyond"),
)
