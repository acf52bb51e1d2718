"""Policy checks: pure functions over parsed files (Kubernetes objects, Dockerfiles, Compose), each returning
a list of `Finding`s (empty = pass). The tests, the grader and `make doctor` call the same functions."""
