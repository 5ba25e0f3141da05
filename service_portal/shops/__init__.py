"""Organisations and their shops: where owners get their car fixed."""
