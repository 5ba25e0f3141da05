"""Markets: the rules of one country (support hours, holidays, retention, authorities)."""
