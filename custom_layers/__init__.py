"""Keras layers of the special-networks zoo."""

from custom_layers.answer_embedding import AnswerEmbedding
from custom_layers.attention_shift import AttentionShift
from custom_layers.bilinear_sampler import BilinearSampler
from custom_layers.causal_conv1d import CausalConv1D
from custom_layers.coordinate_channels import CoordinateChannels
from custom_layers.convs2s_attention import ConvS2SAttention
from custom_layers.glu_conv1d import GLUConv1D
from custom_layers.grid_lstm import GridLSTM1D, GridLSTM2D, GridLSTM2DCell, GridLSTM3D
from custom_layers.grid_lstm_cell import GridLSTMCell
from custom_layers.highway import Highway
from custom_layers.highway_conv2d import HighwayConv2D
from custom_layers.l2_pooling import L2Pooling2D
from custom_layers.last_words import LastWords
from custom_layers.max_pooling_with_argmax import MaxPoolingWithArgmax2D
from custom_layers.max_unpooling import MaxUnpooling2D
from custom_layers.memory_hop import LinearStart, MemoryHop
from custom_layers.ntm_cell import NTM, NTMCell
from custom_layers.null_memory import NullMemory
from custom_layers.pointer_attention import PointerAttention
from custom_layers.pointer_decoder import PointerDecoder
from custom_layers.pointer_generator import PointerGenerator
from custom_layers.pointer_losses import PointerAccuracy, PointerLoss
from custom_layers.reflection_padding import ReflectionPadding1D, ReflectionPadding2D
from custom_layers.sampling_grid import SamplingGrid
from custom_layers.sentence_encoder import SentenceEncoder
from custom_layers.spatial_transformer import SpatialTransformer
from custom_layers.stack_cell import StackCell, StackRNN
from custom_layers.wavenet_block import WaveNetBlock

__all__ = [
    "AnswerEmbedding",
    "AttentionShift",
    "BilinearSampler",
    "CausalConv1D",
    "CoordinateChannels",
    "ConvS2SAttention",
    "GLUConv1D",
    "GridLSTM1D",
    "GridLSTM2D",
    "GridLSTM2DCell",
    "GridLSTM3D",
    "GridLSTMCell",
    "Highway",
    "HighwayConv2D",
    "L2Pooling2D",
    "LastWords",
    "LinearStart",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "MemoryHop",
    "NTM",
    "NTMCell",
    "NullMemory",
    "PointerAccuracy",
    "PointerAttention",
    "PointerDecoder",
    "PointerGenerator",
    "PointerLoss",
    "ReflectionPadding1D",
    "ReflectionPadding2D",
    "SamplingGrid",
    "SentenceEncoder",
    "SpatialTransformer",
    "StackCell",
    "StackRNN",
    "WaveNetBlock",
]
