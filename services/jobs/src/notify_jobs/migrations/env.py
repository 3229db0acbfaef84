from notify_jobs.adapters.tables import metadata
from notify_platform.migrations import run_env

run_env(metadata)
