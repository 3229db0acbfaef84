"""delivery-sms's own database: the send ledger (one row per notification, ever) and its outbox."""

from notify_platform.outbox import outbox_table
from notify_platform.send_ledger import ledger_table
from sqlalchemy import MetaData

metadata = MetaData()
outbox = outbox_table(metadata)

# state: "claimed" (committed before the provider is called), "sent", or "failed".
# A "claimed" row found on redelivery means a crash between the provider call and the record: the provider is
# asked whether it already has the message before anything is sent again.
sends = ledger_table(metadata, "sms_sends", with_provider=True)
