"""lkpolicy: the security gate in front of `linuxkit build`."""

__version__ = "0.1.0"
