"""The edge compartment: the shield in front of web that keeps signed clients trading through
a flood (``docs/edge.md``).

It holds no secret: its configuration is the public site file (core's key, whose requests it
checks, and the relay whose log names the live keys), the web it forwards to and its limits.
Signed requests are admitted first and never asked for a puzzle; everything else is rate-limited
per address and, under attack, must solve one.
"""

from pathlib import Path

from stockade.edge._admission import Admission, Admitted, Code, Lane, Pending, Pressure, Refusal
from stockade.edge._app import main as serve_config
from stockade.edge._config import (
    CONFIG_FILE,
    ConfigError,
    EdgeConfig,
    Limits,
    load_config,
    render_config,
)
from stockade.edge._keys import KeySet, KeyTail, Learned


def main(config_path: Path) -> None:
    serve_config(load_config(config_path))


__all__ = [
    "CONFIG_FILE",
    "Admission",
    "Admitted",
    "Code",
    "ConfigError",
    "EdgeConfig",
    "KeySet",
    "KeyTail",
    "Lane",
    "Learned",
    "Limits",
    "Pending",
    "Pressure",
    "Refusal",
    "load_config",
    "main",
    "render_config",
]
