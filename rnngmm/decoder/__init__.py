"""Code that runs the decoder: re-observation, generation, reconstructions.

:mod:`.reobserve` decodes codes at new sampling patterns (the maths, on a
model), :mod:`.reconstruction` the reconstruction of an object's chunks shown
in reports, and :mod:`.generate` the ``rnngmm generate`` stage.
"""
