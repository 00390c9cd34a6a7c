"""Stage 1b, summing: the canonical columnar table every reader's rows become, native CSV
read in blocks straight into it, the one accumulate that sums batches into cells, and the
vectorised repeat detectors."""
