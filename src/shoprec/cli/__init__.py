"""The ``shoprec`` command line: thin wrappers that parse, call the library and show progress."""

from __future__ import annotations

# Importing the command modules registers their commands on the group.
from shoprec.cli import (  # noqa: F401
    data_commands,
    init_command,
    model_commands,
    pipeline_commands,
    serve_commands,
    store_commands,
    text_commands,
    transfer_commands,
)
from shoprec.cli._app import main

__all__ = ["main"]
