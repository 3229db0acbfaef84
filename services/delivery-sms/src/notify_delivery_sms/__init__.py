"""delivery-sms service."""
