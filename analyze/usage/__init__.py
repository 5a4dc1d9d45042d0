"""`python -m analyze usage`: tokens and cost read off the captures, one job per module.

prices.py   which `usage.prices` entry prices a model id
scan.py     the computation: rows per (key, scope) from the captures and
            the analyzer's ledger, no printing (`status` uses it too)
render.py   the table, the `--json` lines, the footer and the warnings
cli.py      the `usage` arguments and the command
"""
