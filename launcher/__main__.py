"""``python -m launcher`` runs the ``facmon`` command."""

from launcher.cli import main

main()
