"""The witness compartment: an independent cosigner of transparency-log checkpoints.

It holds its own cosigning key and, per log it follows, the last checkpoint it cosigned; it
cosigns a new checkpoint only with a proof that it extends that one (C2SP tlog-witness). It needs
nothing from the site but the log's public key: anyone can run one.
"""

from stockade.witness._app import init_witness, main, open_witness, witness_app
from stockade.witness._config import CONFIG_FILE, ConfigError, WitnessConfig, load_config
from stockade.witness._store import WitnessStore

__all__ = [
    "CONFIG_FILE",
    "ConfigError",
    "WitnessConfig",
    "WitnessStore",
    "init_witness",
    "load_config",
    "main",
    "open_witness",
    "witness_app",
]
