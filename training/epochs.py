"""Per-epoch randomness of training data that a resumed run continues.

A run killed after epoch k resumes with `first_epoch=k` (from its backup's
metadata). Pipelines that draw epoch e from `(seed, e)` (bAbI's random
noise, distorted MNIST, the pointer tasks) then draw what an uninterrupted
run would. Pipelines shuffled by `tf.data` with a fixed seed cannot skip
ahead; they take `resumed_seed(seed, first_epoch)` instead, so that a
resumed run does not replay the orders it drew before the kill.
"""

import numpy as np


def resumed_seed(seed, first_epoch):
    """`seed` for a run from its start; another seed, fixed by `(seed,
    first_epoch)`, for a run resumed at `first_epoch`."""
    if not first_epoch:
        return seed
    return int(np.random.SeedSequence([seed, first_epoch]).generate_state(1)[0] >> 1)


class EpochCounter:
    """The number of the epoch a pipeline draws next, from `first_epoch` on."""

    def __init__(self, first_epoch=0):
        if isinstance(first_epoch, bool) or not isinstance(first_epoch, (int, np.integer)) \
                or first_epoch < 0:
            raise ValueError(f"`first_epoch` must be an int >= 0; received {first_epoch!r}.")
        self.next = int(first_epoch)

    def draw(self):
        """This epoch's number; the next call gets the following one."""
        epoch, self.next = self.next, self.next + 1
        return epoch


class LinearCurriculum:
    """The top of a training range (low, high) that grows linearly from
    `low` to `high` over the first `epochs` epochs (0: no curriculum)."""

    def __init__(self, epochs=0):
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"`curriculum_epochs` must be an int >= 0; received {epochs!r}.")
        self.epochs = epochs

    def top(self, low, high, epoch):
        """The largest value drawn in `epoch` (counted from 0); `high` without a
        curriculum or outside training (`epoch` None)."""
        if epoch is None or not self.epochs:
            return high
        return min(high, low + int(np.ceil((high - low) * (epoch + 1) / self.epochs)))
