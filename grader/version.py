"""The grader's version, recorded in every result so that a regrade is traceable."""

from importlib import metadata

try:
    GRADER_VERSION = metadata.version("ai-hosting-labs")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    GRADER_VERSION = "0.0.0+source"
