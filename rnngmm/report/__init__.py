"""``rnngmm report``: pages of the top anomalies of a flag table."""
