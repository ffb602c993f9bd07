"""``rnngmm report``: pages of the top anomalies of a flag table.

:mod:`.job` chooses the objects, gathers what each page shows and writes the
PDF/PNG pages; :mod:`.figures` draws a page (matplotlib, no model calls).
"""
