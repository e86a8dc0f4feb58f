"""Demo Hub: a plugin-based Gradio hub for classic deep-learning models.

A plugin implements `register_demos(register)` (marked with `@hub.hookimpl`) and calls
`register(DemoSpec(...))` for each demo; see hub/hookspecs.py for every hook.
"""
from .hookspecs import hookimpl
from .inputs import InputError
from .registry import DemoSpec, ModelSpec, lazy

__all__ = ["hookimpl", "DemoSpec", "ModelSpec", "InputError", "lazy"]
__version__ = "0.1.0"
