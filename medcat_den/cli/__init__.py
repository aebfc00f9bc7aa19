"""The ``medcat-den`` command line (also ``python -m medcat_den``)."""
