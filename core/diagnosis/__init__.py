"""Diagnose: the seeds' seven production failure modes of RAG and fine-tuning, each found (or not) in the
team's own stored runs and training curves, with its evidence and the seed's fix.

`finding` is the one result shape, `evidence` loads what the detectors read (once, from the store),
`modes/` holds one small detector per failure mode and `diagnose` runs them all.
"""
