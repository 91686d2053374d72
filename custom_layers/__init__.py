"""Keras layers of the special-networks zoo."""

from custom_layers.bilinear_sampler import BilinearSampler
from custom_layers.highway import Highway
from custom_layers.highway_conv2d import HighwayConv2D

__all__ = ["BilinearSampler", "Highway", "HighwayConv2D"]
