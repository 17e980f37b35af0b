"""Networks of the stylegan engine, in plain PyTorch (nothing compiled, CPU or CUDA).

* ``stylegan2.Generator``: StyleGAN2 config-f, rosinality's state-dict layout.
* ``encoder.FeatureStyleEncoder``: photo -> W+ offsets and a 64x64 feature map.
* ``classifier.PixelClassifier``: DatasetGAN per-pixel sky / fluid / other.
* ``pix2pixhd.GlobalGenerator``: photo -> motion field.
"""
