"""Demo Hub: a plugin-based Gradio hub for classic deep-learning models.

A plugin implements `register_demos(register)` (marked with `@hookimpl`) and calls
`register(DemoSpec(...))` for each demo; see hub/hookspecs.py for every hook. What a plugin may
import is `__all__` below and `hub.kit`'s (the shared plugin kit); nothing here imports torch.
"""
from .batching import Batched
from .errors import InputError
from .hookspecs import hookimpl
from .placement import HoldsModule
from .specs import DemoSpec, ModelSpec, lazy, package_parts
from .weights import load_model, read_config, weights_dir

__all__ = ["hookimpl", "Batched", "DemoSpec", "ModelSpec", "lazy", "package_parts", "InputError", "HoldsModule", "weights_dir", "load_model",
           "read_config"]
__version__ = "0.1.0"
