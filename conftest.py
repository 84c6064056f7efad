"""This repository's e2e fixtures (fixtures/). The bed's own plugin (options, ``bed``,
``serve``, ``needs``, scenario files, report) comes by the ``pytest11`` entry point of
the installed ``ingressbed`` distribution."""

pytest_plugins = ["fixtures.incidents"]
