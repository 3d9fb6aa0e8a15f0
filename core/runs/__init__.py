"""The run store and everything that runs experiments: SQLite store, jobs, worker, sweeps, views."""
