"""Edits of a network: topology changes that return a new, checked spec (``topology``), and what carries over
from one network to the next (``carry``: weights, optimizer state and plot curves across an edit)."""
