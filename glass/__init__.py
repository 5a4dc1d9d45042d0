"""Pieces both stages share: only the config file (`glass.config`).

The stages never import each other; they meet in the capture files, whose
format is written down in README.md.
"""
