"""Settings of delivery-sms: its database and the two SMS providers it can send through."""

from __future__ import annotations

from notify_platform.settings import CommonSettings


class Settings(CommonSettings):
    # Provider credentials default to the local simulators' development values; real ones come from secrets.
    port: int = 6014
    delivery_sms_database_url: str | None = None
    send_concurrency: int = 100

    mmg_url: str = "http://127.0.0.1:6021"
    mmg_username: str = "notify"
    mmg_password: str = "notify-sms-simulator"
    mmg_receipt_username: str = "notify"
    mmg_receipt_password: str = "notify-sms-receipts"
    mmg_weight: int = 51

    firetext_url: str = "http://127.0.0.1:6022"
    firetext_username: str = "notify"
    firetext_password: str = "notify-sms-simulator"
    firetext_receipt_username: str = "notify"
    firetext_receipt_password: str = "notify-sms-receipts"
    firetext_weight: int = 49

    @property
    def database(self) -> str:
        return self.delivery_sms_database_url or self.database_url("delivery_sms")

    def provider_configs(self) -> dict[str, dict[str, str | int]]:
        return {
            name: {
                "base_url": getattr(self, f"{name}_url"),
                "username": getattr(self, f"{name}_username"),
                "password": getattr(self, f"{name}_password"),
                "receipt_username": getattr(self, f"{name}_receipt_username"),
                "receipt_password": getattr(self, f"{name}_receipt_password"),
                "weight": getattr(self, f"{name}_weight"),
            }
            for name in ("mmg", "firetext")
        }
