"""The `vitrina` command line: one subcommand per capability, each in its own module."""
