"""Errors of the local platform launcher, rooted in the project's ``ApexError``."""

from __future__ import annotations

from apex_core.errors import ApexError


class LauncherError(ApexError):
    """The local platform could not be started or stopped."""

    code = "launcher_error"


class PrerequisiteMissing(LauncherError):
    """A system prerequisite (Java, an emulator component, Node.js) is not installed."""

    code = "prerequisite_missing"


class ProcessFailed(LauncherError):
    """A child process exited, or did not become ready before its deadline."""

    code = "process_failed"
