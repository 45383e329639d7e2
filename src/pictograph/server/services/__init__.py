"""Domain rules, one module per resource. No HTTP types here: services raise ServiceErrors."""
