"""Reference data: brands, vehicle models and the services shops offer."""
