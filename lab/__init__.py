"""The lab: building a data directory, judging quality (eval, sweeps), benchmarks, and the
renderings the terminal clients share. It runs the engine; the engine never imports it."""
