"""A bundled, trained mini-CenterNet that detects filled circles, squares and triangles.

It lets ``livedet --model demo`` run fully offline. Submodules:

- ``scenes``  procedural training/test scenes (numpy + OpenCV, no TensorFlow), painted on
  ``backgrounds`` (random flat, gradient, noise, texture and photo-like backgrounds);
- ``network`` the compact CenterNet (Keras) and its losses;
- ``train``   ``python -m livedet.demo_model.train`` reproduces the bundled model;
- ``calibrate`` Platt scaling that turns heatmap peaks into scores that mean "chance it is right";
- ``export``  wraps the model in a TF-Hub-style ``serving_default`` SavedModel signature and
  fits its calibration;
- ``evaluate``, ``foreign`` precision / recall / mAP on held-out scenes and other renderers' shapes;
- ``clip``    ``python -m livedet.demo_model.clip`` writes the bundled demo clip.

Nothing heavy is imported here: TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

CLASS_NAMES: dict[int, str] = {1: "circle", 2: "square", 3: "triangle"}
"""1-based class ids, as in the bundled ``label_map.pbtxt``."""
