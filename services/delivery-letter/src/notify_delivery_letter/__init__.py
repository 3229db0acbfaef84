"""delivery-letter service."""
