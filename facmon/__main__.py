"""``python -m facmon`` runs the ``facmon`` command."""

from facmon.cli import main

main()
