"""Technical service bulletins, software campaigns and recalls for each vehicle."""
