"""A development/test SMTP sink: accepts every message (aiosmtpd), counts it by notification id and POSTs SES-like
receipts back to delivery-email. ``python -m notify_delivery_email.sink``."""
