"""Input/output: light-curve readers, catalogs and the HDF5 dataset."""
