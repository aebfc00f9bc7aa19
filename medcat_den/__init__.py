"""medcat_den: a caikit-based model lifecycle for MedCAT.

The den stores MedCAT model packs content-addressed (``medcat_den.den``), loads
and serves them through caikit (``medcat_den.caikit``), and fine-tunes the
embedding linker (``medcat_den.linking``, ``medcat_den.training``).
"""

__version__ = "0.1.0"
