"""`python -m genzoo.cli`."""

from genzoo.cli import run

run()
