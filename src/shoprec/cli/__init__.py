"""The ``shoprec`` command line: thin wrappers that parse, call the library and show progress."""

from __future__ import annotations

# Importing the command modules registers their commands on the group.
from shoprec.cli import (  # noqa: F401
    _data_commands,
    _forget_command,
    _init_command,
    _model_commands,
    _online_commands,
    _pipeline_commands,
    _quality_commands,
    _serve_commands,
    _store_commands,
    _text_commands,
    _transfer_commands,
)
from shoprec.cli._app import main

__all__ = ["main"]
