"""Geography without Flask: time zones, geodesic helpers, the offline gazetteer."""
