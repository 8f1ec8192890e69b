"""Dreams through a trained network: a TFLite network read into JAX, cut at a
named layer, and the picture climbed along the gradient of that layer.

JAX is imported only when a network is loaded, so the rest of the package
works (and says how to install JAX) without it.
"""
from installation.deep.graph import Graph, Operator, Tensor, read_graph
from installation.deep.network import Network, layer_name, require_jax

__all__ = ["Graph", "Network", "Operator", "Tensor", "layer_name", "read_graph", "require_jax"]
