"""Renderers: the middle box of the pipeline. Each turns (photo, mask, motion)
into the frames of a loop; everything around them is shared."""
