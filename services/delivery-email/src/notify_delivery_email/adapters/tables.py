"""delivery-email's own database: the send ledger and its outbox."""

from notify_platform.outbox import outbox_table
from notify_platform.send_ledger import ledger_table
from sqlalchemy import MetaData

metadata = MetaData()
outbox = outbox_table(metadata)

# state: "claimed" (committed before the SMTP relay is called), "sent", or "failed". A "claimed" row found on
# redelivery means a crash between the relay accepting the message and the record: the message is sent again with
# the same deterministic Message-ID (``<notification_id@domain>``) so receivers can drop the duplicate.
# provider_reference is that Message-ID; receipts are matched to the ledger by it.
sends = ledger_table(metadata, "email_sends", with_provider=False)
