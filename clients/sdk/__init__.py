"""The Bashu SDK (see :func:`clients.connect`)."""
