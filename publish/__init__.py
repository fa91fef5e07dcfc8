"""Publication: export the marts as versioned datasets (write, audit, publish) and the bulletin."""
