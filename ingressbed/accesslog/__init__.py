"""Access-log analysis: a user's own traffic through the placement model.

* ``formats``: nginx ``log_format`` strings -> line parsers (pure);
* ``read``: opening plain, gzip or stdin input, in chunks of lines (the only file I/O);
* ``simulate``: per-candidate load, hot keys, per-pod caches and remapping (pure);
* ``render``: the text table, JSON and the optional PNG;
* ``replay``: a sample of the log through the live bed, compared with the model.

See docs/accesslog.md for the walk-through.
"""
