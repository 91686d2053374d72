"""Spatial transformer layer (Jaderberg et al., 2015)."""

import keras
from keras import ops

from custom_layers.bilinear_sampler import BilinearSampler
from custom_layers.native_resampling import NATIVE_TRANSFORMS, native_kernel_usable, resample_native
from custom_layers.sampling_grid import IDENTITY_PARAMETERS, PARAMETER_COUNTS, SamplingGrid


@keras.saving.register_keras_serializable(package="special_networks")
class SpatialTransformer(keras.layers.Layer):
    """Localisation net, grid generator and bilinear sampler in one layer.

    "Spatial Transformer Networks" (Jaderberg, Simonyan, Zisserman,
    Kavukcuoglu, NIPS 2015): a localisation network looks at the image and
    regresses transformation parameters theta; the grid generator turns them
    into sampling points (output -> input normalised coordinates) and the
    sampler resamples the image there. The final regression layer starts at
    the identity (zero kernel, identity bias), so a fresh transformer passes
    its input through and learns to transform only what helps the loss.
    In inference outside XLA, affine and attention transforms are sampled by
    TF's fused `ImageProjectiveTransformV3` kernel (same values to float
    rounding, same gradients; see `native_resampling`), elsewhere by
    `SamplingGrid` and `BilinearSampler`.

    Args:
        localization: a Keras layer or model from the images to features
            (any shape; flattened before the regression layer). Saved in
            the config.
        output_size: (height, width) of the output.
        transform: `"affine"` (default), `"projective"`, `"attention"` or `"tps"`
            (see `SamplingGrid`).
        align_corners: see `BilinearSampler`.
        padding_mode: `"zeros"` (default) or `"border"`.
        return_theta: also return the parameters. Defaults to False.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: images, [B, H, W, C].
        training: whether the call is a training step (passed on to the
            localisation net; a training step samples with the gathers of
            `BilinearSampler`, whose gradient it needs).

    Returns:
        The transformed images, [B, height, width, C], and with
        `return_theta` also theta, float32 [B, P].

    Example:

    >>> localization = keras.Sequential([
    ...     keras.layers.Conv2D(8, 5, strides=2, activation="relu"),
    ...     keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(32, activation="relu")])
    >>> inputs = keras.Input((42, 42, 1))
    >>> x = SpatialTransformer(localization, (28, 28))(inputs)  # (None, 28, 28, 1)
    """

    def __init__(
        self,
        localization,
        output_size,
        transform="affine",
        align_corners=False,
        padding_mode="zeros",
        return_theta=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(localization, dict):
            localization = keras.saving.deserialize_keras_object(localization)
        if not isinstance(localization, keras.layers.Layer):
            raise ValueError(
                "SpatialTransformer: `localization` must be a Keras layer or model; "
                f"received {type(localization).__name__}."
            )
        self.localization = localization
        self.grid = SamplingGrid(output_size, transform, align_corners, dtype=self.dtype_policy)
        self.sampler = BilinearSampler(align_corners, padding_mode, dtype=self.dtype_policy)
        self.regression = keras.layers.Dense(
            PARAMETER_COUNTS[transform],
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(IDENTITY_PARAMETERS[transform]),
            dtype="float64" if self.compute_dtype == "float64" else "float32",
            name="theta",
        )
        self.output_size = self.grid.output_size
        self.transform = transform
        self.align_corners = bool(align_corners)
        self.padding_mode = padding_mode
        self.return_theta = bool(return_theta)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "SpatialTransformer: `inputs` must be images of rank 4 (B, H, W, C); "
                f"received shape {tuple(input_shape)}."
            )
        if not self.localization.built:  # so that saved weights load into it
            self.localization.build(input_shape)
        features = self.localization.compute_output_shape(input_shape)
        flat = 1
        for size in features[1:]:
            if size is None:
                raise ValueError(
                    "SpatialTransformer: the localization network's output must have a "
                    f"static shape besides the batch; it gives {tuple(features)}."
                )
            flat *= size
        self.regression.build((input_shape[0], flat))
        self.grid.build((input_shape[0], PARAMETER_COUNTS[self.transform]))

    def call(self, images, training=None):
        features = self.localization(images, training=training)
        features = ops.reshape(features, (ops.shape(features)[0], -1))
        theta = self.regression(ops.cast(features, self.regression.compute_dtype))
        if not training and self.transform in NATIVE_TRANSFORMS and native_kernel_usable(self.compute_dtype):
            transformed = resample_native(images, theta, self.grid, self.sampler)
        else:
            transformed = self.sampler([images, self.grid(theta)])
        return (transformed, theta) if self.return_theta else transformed

    def compute_output_shape(self, input_shape):
        images = (input_shape[0],) + self.output_size + (input_shape[-1],)
        if self.return_theta:
            return images, (input_shape[0], PARAMETER_COUNTS[self.transform])
        return images

    def get_config(self):
        config = super().get_config()
        config.update(
            localization=keras.saving.serialize_keras_object(self.localization),
            output_size=self.output_size,
            transform=self.transform,
            align_corners=self.align_corners,
            padding_mode=self.padding_mode,
            return_theta=self.return_theta,
        )
        return config
