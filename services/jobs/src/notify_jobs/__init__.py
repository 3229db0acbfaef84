"""jobs service."""
