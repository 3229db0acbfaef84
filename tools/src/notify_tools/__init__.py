"""Developer and ops commands."""
