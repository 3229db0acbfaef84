"""The whole platform as processes: ``make run`` starts them under honcho; the integration tests start the same
list on free ports with their own databases, vhost and Redis prefix.

``notify-stack migrate`` creates and upgrades every service's database and declares every consumer queue (run it
once before starting the services); ``notify-stack run`` migrates, then runs every process in the foreground until
Ctrl-C, which stops them all.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ports:
    gateway: int = 6011
    notifications: int = 6012
    jobs: int = 6013
    delivery_sms: int = 6014
    delivery_email: int = 6015
    delivery_letter: int = 6016
    sms_sim_mmg: int = 6021
    sms_sim_firetext: int = 6022
    email_sink_smtp: int = 6025
    email_sink_http: int = 6026
    print_sim: int = 6027


@dataclass(frozen=True)
class Proc:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    health_path: str = "/health/ready"
    port: int = 0


# ``make run`` prints letters every few seconds (production collects them once a day at 17:50 London time), so a
# letter sent with the demo reaches "received" while you watch. Environment variables of the same name win.
LOCAL_RUN_ENV = {"LETTER_BATCH_INTERVAL_SECONDS": "5"}

# Every service that owns a database (and so has a ``migrate`` role), in the order to migrate them.
MIGRATING = (
    "notify_notifications",
    "notify_jobs",
    "notify_delivery_sms",
    "notify_delivery_email",
    "notify_delivery_letter",
)


def processes(ports: Ports = Ports(), python: str = sys.executable) -> list[Proc]:
    def svc(name: str, module: str, role: str, port: int, **env: str) -> Proc:
        return Proc(name, (python, "-m", module, role, "--port", str(port)), dict(env), port=port)

    def sim(flavour: str, port: int) -> Proc:
        return Proc(
            f"sms-sim-{flavour}",
            (python, "-m", "notify_delivery_sms.simulator"),
            {
                "SMS_SIM_FLAVOUR": flavour,
                "SMS_SIM_PORT": str(port),
                "SMS_SIM_RECEIPT_URL": f"http://127.0.0.1:{ports.delivery_sms}/notifications/sms/{flavour}",
                "SMS_SIM_INBOUND_URL": f"http://127.0.0.1:{ports.delivery_sms}/notifications/sms/receive/{flavour}",
            },
            health_path="/health",
            port=port,
        )

    internal = {
        "NOTIFICATIONS_URL": f"http://127.0.0.1:{ports.notifications}",
        "JOBS_URL": f"http://127.0.0.1:{ports.jobs}",
        "DELIVERY_SMS_URL": f"http://127.0.0.1:{ports.delivery_sms}",
        "DELIVERY_LETTER_URL": f"http://127.0.0.1:{ports.delivery_letter}",
    }
    providers = {
        "MMG_URL": f"http://127.0.0.1:{ports.sms_sim_mmg}",
        "FIRETEXT_URL": f"http://127.0.0.1:{ports.sms_sim_firetext}",
    }
    email_sink = Proc(
        "email-sink",
        (python, "-m", "notify_delivery_email.sink"),
        {
            "EMAIL_SINK_SMTP_PORT": str(ports.email_sink_smtp),
            "EMAIL_SINK_HTTP_PORT": str(ports.email_sink_http),
            "EMAIL_SINK_RECEIPT_URL": f"http://127.0.0.1:{ports.delivery_email}/notifications/email/receipts",
        },
        health_path="/health",
        port=ports.email_sink_http,
    )
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports.email_sink_smtp)}
    print_sim = Proc(
        "print-sim",
        (python, "-m", "notify_delivery_letter.simulator"),
        {
            "PRINT_SIM_PORT": str(ports.print_sim),
            "PRINT_SIM_RECEIPT_URL": f"http://127.0.0.1:{ports.delivery_letter}/notifications/letter/receipts",
        },
        health_path="/health",
        port=ports.print_sim,
    )
    printer = {"PRINT_PROVIDER_URL": f"http://127.0.0.1:{ports.print_sim}"}
    return [
        sim("mmg", ports.sms_sim_mmg),
        sim("firetext", ports.sms_sim_firetext),
        email_sink,
        print_sim,
        svc("notifications", "notify_notifications", "all", ports.notifications),
        svc("jobs", "notify_jobs", "all", ports.jobs, NOTIFICATIONS_URL=internal["NOTIFICATIONS_URL"]),
        svc("delivery-sms", "notify_delivery_sms", "all", ports.delivery_sms, **providers),
        svc("delivery-email", "notify_delivery_email", "all", ports.delivery_email, **smtp),
        svc("delivery-letter", "notify_delivery_letter", "all", ports.delivery_letter, **printer),
        svc("gateway", "notify_gateway", "api", ports.gateway, **internal),
    ]


def migrate(python: str = sys.executable, env: dict[str, str] | None = None) -> None:
    for module in MIGRATING:
        subprocess.run([python, "-m", module, "migrate"], check=True, env=env)


def run() -> None:
    from honcho.manager import Manager
    from honcho.printer import Printer

    manager = Manager(Printer(sys.stdout))
    for proc in processes():
        manager.add_process(proc.name, " ".join(proc.argv), env={**LOCAL_RUN_ENV, **os.environ, **proc.env})
    manager.loop()
    sys.exit(manager.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(prog="notify-stack", description=__doc__)
    parser.add_argument("command", choices=["migrate", "run"])
    args = parser.parse_args()
    migrate()
    if args.command == "run":
        run()


if __name__ == "__main__":
    main()
