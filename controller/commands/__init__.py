"""The commands: one module per subcommand, each adding its own parser; cli.py puts them together."""
