"""`python -m analyze usage`: tokens and cost read off the captures, one job per module.

models.py   a capture's provider and model, and the model's first-party id
database.py genai-prices' rates, read offline, for one request
prices.py   which source prices a model (usage.prices, else genai-prices), and its cost
scan.py     the computation: rows per (key, scope) from the captures and
            the analyzer's ledger, no printing (`status` uses it too)
render.py   the table, the `--json` lines, the footer and the warnings
cli.py      the `usage` arguments and the command
"""
