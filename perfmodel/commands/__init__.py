"""One module per subcommand; see perfmodel.cli."""
