"""The admin area (`/admin`, role admin): operators' pages over the other domains' services."""
