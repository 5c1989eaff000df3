"""Per-token inference traces: what each prefill / decode step reads, writes and computes."""
