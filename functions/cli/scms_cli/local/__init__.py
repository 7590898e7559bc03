"""The embedded local cloud behind `make serve`: moto server, resources from the SAM template, HTTP gateway."""
