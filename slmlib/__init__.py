"""slmlib: the library behind the slm-erosion notebooks."""
__version__ = "0.1.0"
