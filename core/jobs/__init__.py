"""Background jobs: a store row plus a worker subprocess.

Training, evaluation runs, indexing, demo set-ups, merges and datasets written from a knowledge base
run here (`kinds.KINDS`).
The dashboard and the CLI only write rows and read them back: the work happens
in `python -m core.jobs.worker JOB_ID`, a process of its own that survives the
browser closing and the app restarting.
"""
