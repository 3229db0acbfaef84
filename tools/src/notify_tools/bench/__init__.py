"""``make bench``: throughput measured against the real stack (RabbitMQ, Postgres, Redis, simulators), reported in
``docs/benchmarks.md``. Each section is a module with a ``run(...)`` returning a :class:`report.Section`."""
