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
* ``upstreams``: what an ingress-nginx log says the controller did: lines per backend,
  first attempts, the pods seen and the periods between pod changes (pure);
* ``agreement``: each candidate's share of the log's real picks, and round robin's cycle
  test (pure);
* ``render_upstream``: the text and PNG of one backend's analysis;
* ``production``: synthetic production logs (several backends, picks of known keys).

See docs/accesslog.md for the walk-through.
"""
