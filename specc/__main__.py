"""`python -m specc` is the same as the `specc` command."""

from specc.cli.main import main

main()
