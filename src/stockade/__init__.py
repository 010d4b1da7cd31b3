"""Stockade: a Bitcoin exchange built in compartments."""
