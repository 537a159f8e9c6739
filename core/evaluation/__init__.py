"""Evaluation: golden eval sets, the metrics that grade answers, and (to come) runs as jobs."""
