"""Wire formats of the two aggregator-style protocols, shared by the adapters and the simulator.

"mmg" protocol (JSON, HTTP basic auth)
    send     POST {base}/v1/messages   Authorization: Basic user:password
             {"reqType": "BULK", "MSISDN": "447700900123", "msg": "...", "sender": "...",
              "cid": "<notification id>", "multi": true, "international": false}
             200 {"reference": "<provider message id>", "cid": "<notification id>"}
             401 / 400 {"Error": <int>, "Description": "..."};  500 on provider trouble
    receipt  POST <receipt url>   Authorization: Basic receipt_user:receipt_password   (JSON)
             {"reference": "<provider message id>", "CID": "<notification id>", "status": "3",
              "substatus": "0", "deliverytime": "YYYY-MM-DD HH:MM:SS"}
             status 3 delivered, 4 temporary failure, 2 / 5 permanent failure, anything else technical failure

"firetext" protocol (form-encoded, API key)
    send     POST {base}/api/sendsms/json   (application/x-www-form-urlencoded)
             apiKey=<password>&from=<sender>&to=447700900123&message=...&reference=<notification id>&international=0
             200 {"code": 0, "description": "SMS successfully queued", "messageId": "<provider message id>"}
             401 {"code": 1, ...};  400 {"code": 2, ...};  500 on provider trouble
    receipt  POST <receipt url>   Authorization: Basic receipt_user:receipt_password   (form-encoded)
             reference=<notification id>&messageId=<provider message id>&status=0|1|2&code=000&time=YYYY-MM-DD HH:MM:SS
             status 0 delivered, 2 pending, 1 declined: decided by ``code`` (see FIRETEXT_DECLINED_CODES)

Received texts (both protocols; same basic-auth credentials as receipts; answered 200 {"status": "ok"})
    mmg      POST <delivery-sms>/notifications/sms/receive/mmg   (JSON)
             {"ID": "<provider message id>", "MSISDN": "447700900123", "Number": "447700900456",
              "Message": "url+encoded%2C+plus+for+spaces", "DateRecieved": "2017-05-21+11%3A56%3A11"}
             (sic "DateRecieved": UK local time, URL-encoded, optional)
    firetext POST <delivery-sms>/notifications/sms/receive/firetext   (form-encoded)
             source=447700900123&destination=447700900456&message=...&time=YYYY-MM-DD HH:MM:SS   (UK local time;
             no message id)

Both protocols
    lookup   GET {base}/messages/by-reference/{notification id}   (same credentials as a send: basic auth for
             mmg, an ``X-Api-Key`` header for firetext)
             200 {"reference": "<notification id>", "message_id": "<first provider message id>", "sends": n}
             404 when no message with that client reference was accepted
"""

from __future__ import annotations

from .base import DELIVERED, PERMANENT_FAILURE, TEMPORARY_FAILURE

MMG_SEND_PATH = "/v1/messages"
FIRETEXT_SEND_PATH = "/api/sendsms/json"
FIRETEXT_API_KEY_HEADER = "X-Api-Key"
INBOUND_PATH = "/notifications/sms/receive/{provider}"

MMG_DELIVERED = 3
MMG_TEMPORARY_FAILURE = 4
MMG_PERMANENT_FAILURE = 5
MMG_STATUSES: dict[int, str] = {
    3: DELIVERED,
    4: TEMPORARY_FAILURE,
    2: PERMANENT_FAILURE,
    5: PERMANENT_FAILURE,
}

FIRETEXT_DELIVERED = "0"
FIRETEXT_DECLINED = "1"
FIRETEXT_PENDING = "2"

# Detailed codes that accompany a declined (status 1) Firetext receipt: code -> (Notify status, reason).
FIRETEXT_DECLINED_CODES: dict[str, tuple[str, str]] = {
    "000": (TEMPORARY_FAILURE, "No error reported"),
    "101": (PERMANENT_FAILURE, "Unknown subscriber"),
    "102": (TEMPORARY_FAILURE, "Absent subscriber"),
    "103": (TEMPORARY_FAILURE, "Subscriber busy"),
    "104": (TEMPORARY_FAILURE, "No subscriber memory"),
    "201": (PERMANENT_FAILURE, "Invalid number"),
    "301": (PERMANENT_FAILURE, "SMS not supported"),
    "302": (TEMPORARY_FAILURE, "SMS not supported"),
    "401": (PERMANENT_FAILURE, "Message rejected"),
    "900": (TEMPORARY_FAILURE, "Routing error"),
}
FIRETEXT_TEMPORARY_CODE = "102"
FIRETEXT_PERMANENT_CODE = "101"
FIRETEXT_DELIVERED_CODE = "000"
