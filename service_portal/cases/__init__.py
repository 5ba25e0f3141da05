"""Support cases: an owner's request followed by staff and shops to the end."""
