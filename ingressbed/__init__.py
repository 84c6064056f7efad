"""ingressbed's fixtures: backends, clients, measurements, placement model, CLI."""
