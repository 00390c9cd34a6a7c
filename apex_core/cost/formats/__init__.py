"""Stage 1a, reading: the format registry (detection + one row reader per format) and
``read_usage``, which streams any supported file as :class:`~apex_core.cost.model.records.UsageRecord` s."""
