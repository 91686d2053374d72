"""Argument checks shared by the layers."""


def two_input_shapes(input_shape, layer, expected):
    """Returns the two shapes of a two-tensor input, or a `ValueError` saying
    that `inputs` must be `expected` (e.g. "[query, keys]")."""
    if (
        not isinstance(input_shape, (list, tuple))
        or len(input_shape) != 2
        or not all(isinstance(s, (list, tuple)) for s in input_shape)
    ):
        raise ValueError(
            f"{layer}: `inputs` must be {expected}; received shapes {input_shape}."
        )
    return input_shape
