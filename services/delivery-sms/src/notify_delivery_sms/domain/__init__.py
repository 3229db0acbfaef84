"""Pure rules of delivery-sms: no I/O, no clock of their own (callers pass ``now``)."""
