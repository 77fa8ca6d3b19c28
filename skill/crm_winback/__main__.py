"""``python -m crm_winback`` runs the command line."""

from .cli import run

run()
