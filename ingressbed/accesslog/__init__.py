"""Access-log analysis: a user's own traffic through the placement model.

* ``formats``: nginx ``log_format`` strings -> line parsers (pure);
* ``read``: opening plain, gzip or stdin input, in chunks of lines (the only file I/O);
* ``records``: which logged variables give the request, page and time (pure);
* ``results``: candidates, settings and results as plain data;
* ``simulate``: per-candidate load, hot keys and per-pod caches, line by line (pure);
* ``summary``: remapping on scale up and down, computed at the end (pure);
* ``render``: the text table, JSON and the optional PNG;
* ``replay``: a sample of the log through the live bed, compared with the model;
* ``generate``: synthetic Zipf-popular logs for the docs, tests and benchmark.

See docs/accesslog.md for the walk-through.
"""
