"""Pieces every stage shares: the config file (`glass.config`) and the facts
of the file contract (`glass.contract`).

The stages never import each other; they meet in the capture files, whose
format is written down in README.md.
"""
