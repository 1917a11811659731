"""Helpers for the tests (not test modules): the fake Hub server, the remote-code child process and the
demo's planted-weight models."""
