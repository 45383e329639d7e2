"""The ``pictograph`` command-line interface (``pip install 'pictograph[cli]'``)."""
