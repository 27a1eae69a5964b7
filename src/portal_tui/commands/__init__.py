"""Entry points of the command line: the app launcher and the non-interactive commands."""
