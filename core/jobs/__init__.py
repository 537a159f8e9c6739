"""Background jobs: a store row plus a worker subprocess.

Training runs here now; indexing and evaluation runs use the same machinery.
The dashboard and the CLI only write rows and read them back: the work happens
in `python -m core.jobs.worker JOB_ID`, a process of its own that survives the
browser closing and the app restarting.
"""
