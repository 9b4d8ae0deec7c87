"""Workloads: model definitions plus real sample inputs (see base.Workload)."""
