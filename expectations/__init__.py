"""Great Expectations suites (JSON in suites/) and the runner that binds them to the warehouse."""
