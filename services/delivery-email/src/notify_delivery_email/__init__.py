"""delivery-email service."""
