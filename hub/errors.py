"""The errors the hub shows to users as they are: a plugin raises them, the UI shell words them."""
from __future__ import annotations


class InputError(ValueError):
    """The user's input cannot be used; str(error) says why and what to do instead."""
