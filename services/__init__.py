"""Glass in the background: `python -m services up|down|status|logs` (`make up` …).

Stage-neutral: it imports only `glass/` and starts the stages as subprocesses
(`python -m capture … proxy`, `python -m analyze …`); the pid files, the lock
and the logs are `glass.procs`'s, shared with `make run-claude`.
"""
