"""People who sign in (dealers, staff, admins, owners) and their API tokens."""
