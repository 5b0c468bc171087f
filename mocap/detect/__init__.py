"""The detection stage: videos -> per-camera 2D keypoints and heatmaps.

* :mod:`.video`: camera sources (video files or image folders), checked and decoded ahead.
* :mod:`.geometry`: person crops and the affines between crop, heatmap and image pixels.
* :mod:`.blazepose`: BlazePose through LiteRT (detector with SSD anchors, landmark model with
  its 64 x 64 heatmaps, ROI tracking).
* :mod:`.hands`: MediaPipe's hand landmark model on hand crops placed from BlazePose's wrist,
  index and pinky points (``[detect] hands``).
* :mod:`.onnx_backend`: top-down heatmap / SimCC ONNX models through onnxruntime.
* :mod:`.types`: what the backends share (:class:`~.types.BackendSpec`, the
  :class:`~.types.DetectorBackend` interface, :class:`~.types.PersonResult`);
  :mod:`.backends`: :func:`~.backends.make_backend`; :mod:`.run`: parallel workers per camera,
  on the video files and result files the caller names.

A session's detections (its ``pose/`` files, else detection on its ``videos/``) are the app
layer's: :func:`mocap.app.detections.session_detections`.
"""
