"""Argument checks and window arithmetic shared by the pooling layers.

Sizes follow TensorFlow's (and Keras's) pooling: with `padding="valid"` a
window lies wholly inside the input, `out = (size - pool) // stride + 1`;
with `"same"`, `out = ceil(size / stride)` and the input is padded by
`max((out - 1) * stride + pool - size, 0)`, half of it (rounded down) before.
"""

PADDINGS = ("valid", "same")


def int_pair(value, name, layer, minimum=1):
    """`value` (an int or two ints) as a tuple of two ints >= `minimum`."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        pair = tuple(pair)
    except TypeError:
        pair = None
    if (pair is None or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in pair)):
        raise ValueError(
            f"{layer}: `{name}` must be an int >= {minimum} or a tuple of two; received {value!r}."
        )
    return pair


def check_padding(padding, layer):
    if not isinstance(padding, str) or padding.lower() not in PADDINGS:
        raise ValueError(f"{layer}: `padding` must be one of {PADDINGS}; received {padding!r}.")
    return padding.lower()


def check_image_shape(shape, name, layer):
    """A `ValueError` unless `shape` is (B, H, W, C) with C known."""
    if len(shape) != 4:
        raise ValueError(
            f"{layer}: `{name}` must have rank 4 (B, H, W, C), channels last; "
            f"received shape {tuple(shape)}."
        )
    if shape[-1] is None:
        raise ValueError(
            f"{layer}: the channel axis of `{name}` must be known; received shape {tuple(shape)}."
        )


def pooled_size(size, pool, stride, padding):
    """The pooled length of an axis of `size` (an int, a tensor, or None)."""
    if size is None:
        return None
    if padding == "same":
        return (size + stride - 1) // stride
    return (size - pool) // stride + 1


def padding_amounts(size, pool, stride, padding):
    """(before, after): the positions padded around an axis of `size` (an
    int or a tensor); (0, 0) for "valid"."""
    if padding == "valid":
        return 0, 0
    out = (size + stride - 1) // stride
    total = (out - 1) * stride + pool - size
    total = (total + abs(total)) // 2  # max(total, 0), for ints and tensors alike
    return total // 2, total - total // 2
